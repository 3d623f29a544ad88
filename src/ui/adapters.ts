/** What the UI does with the loaded model's LoRA adapters (the list itself is `app.adapters`). */
import { strToU8, zipSync } from 'fflate';
import { downloadFile } from './download';
import { engine } from './state.svelte';

/** Offers the adapter as `<name>.zip`, holding the two files PEFT reads, in a `<name>/` folder. */
export async function downloadAdapter(name: string): Promise<void> {
  const files = await engine.train.exportAdapter(name);
  downloadFile(
    `${name}.zip`,
    zipSync({
      [`${name}/adapter_config.json`]: strToU8(files.config),
      [`${name}/adapter_model.safetensors`]: files.weights,
    }),
  );
}
