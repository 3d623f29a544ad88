/** The names seal/config.ts, scripts/seal.ts and the SEAL panel import from here; see ../prompts. */
export { SELF_EDIT_FORMATS, selfEditPrompt } from '../prompts';
