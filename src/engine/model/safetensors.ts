/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
 * mapping tensor names to {dtype, shape, data_offsets}, then the raw little-endian data.
 * Every header field is checked before any tensor is read, so a truncated download or a hostile
 * file fails here with a message that names the file and the tensor.
 */

const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte span inside the data section (which starts right after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  fileName: string;
  metadata: Record<string, string>;
  entries: Map<string, SafetensorsEntry>;
  /** A fresh float32 copy of a floating-point tensor; F16 and BF16 widen exactly. */
  readFloat32(name: string): Float32Array;
}

export interface NamedFloat32Tensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The reference implementation's bound: larger headers are refused before parsing. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

type Fail = (message: string) => never;

function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BYTES, value);
}

export function parseSafetensors(bytes: Uint8Array, fileName: string): SafetensorsFile {
  const fail: Fail = (message) => {
    throw new Error(`${fileName}: ${message}`);
  };
  if (bytes.byteLength < 8) {
    fail(
      `only ${bytes.byteLength} bytes, too short for a safetensors file (needs an 8-byte header length)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) {
    fail(`header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (8 + headerLength > bytes.byteLength) {
    fail(
      `header length ${headerLength} runs past the end of the ${bytes.byteLength}-byte file (truncated or not safetensors)`,
    );
  }
  const header = decodeHeaderJson(bytes.subarray(8, 8 + headerLength), fail);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;

  let metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(value, fail);
    } else {
      entries.set(name, parseEntry(name, value, dataLength, fail));
    }
  }
  checkSpansTileData([...entries.values()], dataLength, fail);

  const data = bytes.subarray(dataStart);
  return {
    fileName,
    metadata,
    entries,
    readFloat32(name) {
      const entry = entries.get(name);
      if (!entry) return fail(`has no tensor '${name}'`);
      return widenToFloat32(data.subarray(entry.begin, entry.end), entry, fail);
    },
  };
}

function decodeHeaderJson(headerBytes: Uint8Array, fail: Fail): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail('header does not start with "{" (not a safetensors file?)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`header is not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(parsed)) return fail('header JSON is not an object');
  return parsed;
}

function parseMetadata(value: unknown, fail: Fail): Record<string, string> {
  if (!isPlainObject(value)) fail(`'${METADATA_KEY}' must be an object of strings`);
  const metadata: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      fail(`'${METADATA_KEY}' entry '${key}' must be a string, got ${JSON.stringify(item)}`);
    }
    metadata[key] = item;
  }
  return metadata;
}

function parseEntry(
  name: string,
  value: unknown,
  dataLength: number,
  fail: Fail,
): SafetensorsEntry {
  const bad: Fail = (message) => fail(`tensor '${name}': ${message}`);
  if (!isPlainObject(value)) bad('entry must be an object with dtype, shape and data_offsets');
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isSafetensorsDtype(dtype)) {
    bad(`unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  if (!isShape(shape)) {
    bad(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!isSpan(offsets)) {
    bad(`data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets;
  const expectedBytes = elementCount(shape) * DTYPE_BYTES[dtype];
  if (expectedBytes !== end - begin) {
    bad(
      `shape [${shape.join(', ')}] of ${dtype} needs ${expectedBytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  if (end > dataLength) {
    bad(
      `data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section (file truncated?)`,
    );
  }
  return { name, dtype, shape: [...shape], begin, end };
}

/** Like the reference reader: spans must not overlap, leave no gaps, and cover all the data. */
function checkSpansTileData(entries: SafetensorsEntry[], dataLength: number, fail: Fail): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: SafetensorsEntry | null = null;
  for (const entry of sorted) {
    if (previous && entry.begin < covered) {
      fail(
        `tensor '${entry.name}' [${entry.begin}, ${entry.end}] overlaps tensor '${previous.name}' [${previous.begin}, ${previous.end}]`,
      );
    }
    if (entry.begin > covered) {
      fail(`bytes [${covered}, ${entry.begin}) before tensor '${entry.name}' belong to no tensor`);
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataLength) {
    fail(
      `tensors cover ${covered} bytes but the data section has ${dataLength} (trailing bytes or a wrong header)`,
    );
  }
}

function widenToFloat32(raw: Uint8Array, entry: SafetensorsEntry, fail: Fail): Float32Array {
  // Copy into a fresh, aligned buffer (a Node Buffer's slice() would share its pool instead);
  // typed arrays then read it in the host's byte order, little-endian wherever tfjs runs.
  const aligned = new Uint8Array(raw).buffer;
  switch (entry.dtype) {
    case 'F32':
      return new Float32Array(aligned);
    case 'F64':
      return Float32Array.from(new Float64Array(aligned));
    case 'F16':
      return float16BitsToFloat32(new Uint16Array(aligned));
    case 'BF16':
      return bfloat16BitsToFloat32(new Uint16Array(aligned));
    default:
      return fail(
        `tensor '${entry.name}' has dtype ${entry.dtype}; only F32, F64, F16 and BF16 read as float32`,
      );
  }
}

/** BF16 is the top half of an F32: shifting the bits back is exact. */
export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i]! << 16;
  return new Float32Array(out.buffer);
}

let float16Table: Float32Array | null = null;

/** The value of every float16, indexed by its bits (built on first use). */
export function float16Values(): Float32Array {
  float16Table ??= buildFloat16Table();
  return float16Table;
}

/** Every F16 value is exactly representable in F32; a 64K-entry table makes widening a lookup. */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const table = float16Values();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

function buildFloat16Table(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) table[bits] = float16ToNumber(bits);
  return table;
}

function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Writes F32 tensors in name order, header padded with spaces to a multiple of 8 bytes. */
export function serializeSafetensors(
  tensors: NamedFloat32Tensor[],
  metadata?: Record<string, string>,
): Uint8Array {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const tensor of sorted) {
    if (tensor.name === METADATA_KEY) throw new Error(`'${METADATA_KEY}' cannot name a tensor`);
    if (Object.hasOwn(header, tensor.name)) {
      throw new Error(`tensor '${tensor.name}' appears twice`);
    }
    if (!isShape(tensor.shape) || elementCount(tensor.shape) !== tensor.data.length) {
      throw new Error(
        `tensor '${tensor.name}': shape [${tensor.shape.join(', ')}] does not fit ${tensor.data.length} values`,
      );
    }
    const bytes = tensor.data.byteLength;
    header[tensor.name] = {
      dtype: 'F32',
      shape: tensor.shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let position = 8 + headerLength;
  for (const tensor of sorted) {
    out.set(
      new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
      position,
    );
    position += tensor.data.byteLength;
  }
  return out;
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isNonNegativeInteger);
}

function isSpan(value: unknown): value is [number, number] {
  if (!Array.isArray(value) || value.length !== 2) return false;
  const [begin, end] = value as unknown[];
  return isNonNegativeInteger(begin) && isNonNegativeInteger(end) && begin <= end;
}

function elementCount(shape: number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
