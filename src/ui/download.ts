/** Offers `contents` to the user as a file download named `fileName`. */
export function downloadFile(fileName: string, contents: Uint8Array | Blob): void {
  const blob =
    contents instanceof Blob ? contents : new Blob([contents as Uint8Array<ArrayBuffer>]);
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  // Some browsers read the URL only after click() returns; revoking it at once can cancel the download.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
