/**
 * Reads a zip archive without taking its headers on trust. fflate's readers keep the last of
 * two entries with one name, never check CRC-32s, and inflate a whole entry at once however large
 * it turns out to be. Here every entry must be listed once, its local header must agree with the
 * central directory, entries must not overlap, and an entry inflates in small slices that stop
 * the moment it passes its declared size; at the end its size and CRC-32 must match.
 */
import { Inflate, strFromU8 } from 'fflate';

export interface ZipEntry {
  name: string;
  /** 0: stored, 8: deflated; the only two methods zip writers use for these files. */
  compression: 0 | 8;
  crc: number;
  compressedSize: number;
  /** The inflated size the archive declares. */
  size: number;
  /** Offset of the entry's compressed bytes in the archive. */
  dataStart: number;
}

const END_OF_DIRECTORY = 0x06054b50;
const DIRECTORY_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const FLAG_ENCRYPTED = 1;
const FLAG_DATA_DESCRIPTOR = 8;
const FLAG_UTF8_NAME = 2048;
/** Compressed bytes inflated at a time: deflate expands at most ~1032×, so one slice yields ≤ 4 MiB. */
const SLICE_BYTES = 4096;

function unreadable(reason: string): Error {
  return new Error(`Not a readable zip file: ${reason}.`);
}

function findEndOfDirectory(archive: Uint8Array, view: DataView): number {
  // The record is 22 bytes plus a comment of at most 65535.
  const lowest = Math.max(0, archive.byteLength - 22 - 65535);
  for (let at = archive.byteLength - 22; at >= lowest; at--) {
    if (view.getUint32(at, true) === END_OF_DIRECTORY) return at;
  }
  throw unreadable('it has no end-of-directory record');
}

/** The archive's entries by name, in directory order; throws on anything inconsistent. */
export function readZipDirectory(archive: Uint8Array): Map<string, ZipEntry> {
  const view = new DataView(archive.buffer, archive.byteOffset, archive.byteLength);
  const end = findEndOfDirectory(archive, view);
  const count = view.getUint16(end + 10, true);
  const directorySize = view.getUint32(end + 12, true);
  const directoryStart = view.getUint32(end + 16, true);
  if (view.getUint16(end + 4, true) !== 0 || view.getUint16(end + 8, true) !== count) {
    throw unreadable('it spans several disks');
  }
  if (directoryStart + directorySize > end) throw unreadable('its directory lies outside it');

  const entries = new Map<string, ZipEntry>();
  const byOffset: { headerStart: number; dataEnd: number; name: string }[] = [];
  let at = directoryStart;
  for (let i = 0; i < count; i++) {
    if (at + 46 > end || view.getUint32(at, true) !== DIRECTORY_HEADER) {
      throw unreadable(`directory entry ${i} is damaged`);
    }
    const flags = view.getUint16(at + 8, true);
    const compression = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    const compressedSize = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const skipLength = view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    const headerStart = view.getUint32(at + 42, true);
    if (at + 46 + nameLength > end) throw unreadable(`directory entry ${i} is damaged`);
    const nameBytes = archive.subarray(at + 46, at + 46 + nameLength);
    const name = strFromU8(nameBytes, !(flags & FLAG_UTF8_NAME));
    const quoted = JSON.stringify(name.slice(0, 200));
    at += 46 + nameLength + skipLength;

    if (entries.has(name)) throw new Error(`The archive holds ${quoted} twice.`);
    if (flags & FLAG_ENCRYPTED) throw new Error(`The archive's ${quoted} is encrypted.`);
    if (compression !== 0 && compression !== 8) {
      throw new Error(`The archive's ${quoted} uses compression method ${compression}.`);
    }
    if (compression === 0 && compressedSize !== size) {
      throw new Error(
        `The archive's ${quoted} is stored uncompressed in ${compressedSize} bytes ` +
          `but declares ${size}.`,
      );
    }
    if (headerStart + 30 > directoryStart || view.getUint32(headerStart, true) !== LOCAL_HEADER) {
      throw unreadable(`${quoted} has no local header`);
    }
    const localNameLength = view.getUint16(headerStart + 26, true);
    const dataStart = headerStart + 30 + localNameLength + view.getUint16(headerStart + 28, true);
    const localName = archive.subarray(headerStart + 30, headerStart + 30 + localNameLength);
    const localAgrees =
      localName.length === nameBytes.length &&
      localName.every((byte, j) => byte === nameBytes[j]) &&
      view.getUint16(headerStart + 8, true) === compression &&
      // With a data descriptor the local header leaves the CRC and sizes at zero.
      (flags & FLAG_DATA_DESCRIPTOR ||
        (view.getUint32(headerStart + 14, true) === crc &&
          view.getUint32(headerStart + 18, true) === compressedSize &&
          view.getUint32(headerStart + 22, true) === size));
    if (!localAgrees) {
      throw new Error(`The archive's local header of ${quoted} disagrees with its directory.`);
    }
    if (dataStart + compressedSize > directoryStart) throw unreadable(`${quoted} is cut short`);
    entries.set(name, {
      name,
      compression: compression as 0 | 8,
      crc,
      compressedSize,
      size,
      dataStart,
    });
    byOffset.push({ headerStart, dataEnd: dataStart + compressedSize, name });
  }
  byOffset.sort((a, b) => a.headerStart - b.headerStart);
  for (let i = 1; i < byOffset.length; i++) {
    if (byOffset[i]!.headerStart < byOffset[i - 1]!.dataEnd) {
      throw unreadable(
        `${JSON.stringify(byOffset[i]!.name.slice(0, 200))} overlaps ` +
          JSON.stringify(byOffset[i - 1]!.name.slice(0, 200)),
      );
    }
  }
  return entries;
}

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** CRC-32 (as zip uses it) of `bytes` appended to data whose CRC-32 is `crc`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Hands the entry's inflated bytes to `onChunk` a few MiB at a time. Throws, naming the entry,
 * as soon as it inflates past its declared size, and at the end when its size or CRC-32 differ.
 */
export function streamEntry(
  archive: Uint8Array,
  entry: ZipEntry,
  onChunk: (chunk: Uint8Array) => void,
): void {
  let produced = 0;
  let crc = 0;
  const take = (chunk: Uint8Array) => {
    produced += chunk.byteLength;
    if (produced > entry.size) {
      throw new Error(`${entry.name}: inflates to more than the ${entry.size} bytes it declares`);
    }
    crc = crc32(chunk, crc);
    onChunk(chunk);
  };
  const compressed = archive.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
  if (entry.compression === 0) {
    for (let at = 0; at < compressed.byteLength; at += SLICE_BYTES) {
      take(compressed.subarray(at, at + SLICE_BYTES));
    }
  } else {
    const inflater = new Inflate(take);
    for (let at = 0; at < compressed.byteLength || at === 0; at += SLICE_BYTES) {
      const slice = compressed.subarray(at, at + SLICE_BYTES);
      const final = at + SLICE_BYTES >= compressed.byteLength;
      try {
        inflater.push(slice, final);
      } catch (error) {
        // fflate's own errors carry a numeric code; anything else came from `take`.
        if (typeof (error as { code?: unknown }).code !== 'number') throw error;
        throw new Error(`${entry.name}: not valid deflate data (${(error as Error).message})`);
      }
    }
  }
  if (produced !== entry.size) {
    throw new Error(`${entry.name}: inflates to ${produced} bytes but declares ${entry.size}`);
  }
  if (crc !== entry.crc) {
    throw new Error(`${entry.name}: its CRC-32 does not match the one the archive declares`);
  }
}

/** The entry's whole inflated bytes, checked as `streamEntry` checks them. */
export function readEntry(archive: Uint8Array, entry: ZipEntry): Uint8Array {
  const bytes = new Uint8Array(entry.size);
  let at = 0;
  streamEntry(archive, entry, (chunk) => {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  });
  return bytes;
}
