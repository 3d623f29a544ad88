/**
 * The guided walkthrough as the engine serves it: the passage, then the self-edit, then the
 * update (fine-tune, answers before and after, reward), each a call of its own so the page can
 * show one step at a time and leave the model free in between. The model steps run as the
 * model's one job and can be cancelled; the adapter lives only inside the update call.
 */
import type { JobRegistry } from '../jobs';
import type { ModelSession } from '../model/session';
import { resolveSealConfig, type SealConfig } from './config';
import { worldSealContexts, type SealContexts } from './contexts';
import {
  applyWalkthroughSelfEdit,
  walkthroughPassage,
  writeWalkthroughSelfEdit,
  type WalkthroughEvent,
  type WalkthroughPassage,
  type WalkthroughRequest,
  type WalkthroughSelfEdit,
  type WalkthroughUpdate,
} from './walkthrough';

export type {
  AnswerSide,
  MarkedLine,
  QuestionOutcome,
  WalkthroughEvent,
  WalkthroughPassage,
  WalkthroughRequest,
  WalkthroughSelfEdit,
  WalkthroughUpdate,
} from './walkthrough';

export interface WalkthroughApi {
  /** The settings an episode of `request` uses: the SEAL defaults with its overrides. */
  settings(request: WalkthroughRequest): Promise<SealConfig>;
  /** Step 1: the validation passage the request's seed picks (no model needed). */
  passage(request: WalkthroughRequest): Promise<WalkthroughPassage>;
  /** Step 2: the loaded model writes a self-edit of that passage, streamed as it is written. */
  writeSelfEdit(
    jobId: string,
    request: WalkthroughRequest,
    onEvent?: (event: WalkthroughEvent) => void,
  ): Promise<WalkthroughSelfEdit>;
  /**
   * Steps 3–5: a fresh LoRA fine-tuned on `selfEdit` (each step's loss streamed), the passage's
   * questions answered closed book without and with it, and the self-edit's reward.
   */
  applySelfEdit(
    jobId: string,
    request: WalkthroughRequest,
    selfEdit: string,
    onEvent?: (event: WalkthroughEvent) => void,
  ): Promise<WalkthroughUpdate>;
}

export function createWalkthroughService(jobs: JobRegistry, session: ModelSession): WalkthroughApi {
  /** The last world read: every step of a walkthrough asks for the same one. */
  let lastWorld: { seed: number; contexts: SealContexts } | null = null;
  const validationOf = (worldSeed: number): SealContexts => {
    if (!Number.isInteger(worldSeed)) {
      throw new Error(`World seed must be a whole number, got ${worldSeed}`);
    }
    if (lastWorld?.seed !== worldSeed) {
      lastWorld = { seed: worldSeed, contexts: worldSealContexts(worldSeed, 'validation') };
    }
    return lastWorld.contexts;
  };
  const passageOf = (request: WalkthroughRequest) =>
    walkthroughPassage(validationOf(request.worldSeed), request);

  return {
    async settings(request) {
      return resolveSealConfig(request.config);
    },

    async passage(request) {
      return passageOf(request);
    },

    async writeSelfEdit(jobId, request, onEvent) {
      const config = resolveSealConfig(request.config);
      const passage = passageOf(request);
      return jobs.runOnModel(jobId, 'the walkthrough', (checkpoint) =>
        writeWalkthroughSelfEdit(
          session.require(),
          config,
          passage,
          validationOf(request.worldSeed),
          request.seed,
          { checkpoint, onEvent },
        ),
      );
    },

    async applySelfEdit(jobId, request, selfEdit, onEvent) {
      const config = resolveSealConfig(request.config);
      const passage = passageOf(request);
      return jobs.runOnModel(jobId, 'the walkthrough', (checkpoint) =>
        applyWalkthroughSelfEdit(session.require(), config, passage, selfEdit, request.seed, {
          checkpoint,
          onEvent,
        }),
      );
    },
  };
}
