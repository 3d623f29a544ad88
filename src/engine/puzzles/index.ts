/**
 * The few-shot puzzles: grids, the rules and seeded world of tasks, ARC's task format, the
 * recipes a model writes as self-edits, and test-time training with augmented voting.
 */
export {
  COLOURS,
  MAX_SIDE,
  height,
  width,
  makeGrid,
  cloneGrid,
  gridsEqual,
  gridKey,
  gridProblem,
  type Grid,
  type GridPair,
  type PuzzleTask,
} from './grid';
export { BACKGROUND } from './objects';
export {
  PRIMITIVES,
  FOREGROUND,
  primitiveNamed,
  makeRule,
  drawStep,
  applyRule,
  applyRuleVisibly,
  type Primitive,
  type PrimitiveName,
  type PrimitiveParams,
  type ParamValue,
  type InputStyle,
  type Direction,
  type RuleStep,
  type PuzzleRule,
} from './transforms';
export {
  generatePuzzleWorld,
  DEFAULT_PUZZLE_WORLD_PARAMS,
  PUZZLE_SPLITS,
  compositionKey,
  allCompositions,
  feasibleCompositions,
  heldOutCompositions,
  ruleReproduces,
  puzzleProblem,
  type PuzzleSplit,
  type PuzzleWorld,
  type PuzzleWorldParams,
  type PuzzleWorldTask,
} from './world';
export {
  parseArcTask,
  parseArcFile,
  arcTaskJson,
  ArcFormatError,
  MAX_TRAIN_PAIRS,
  MAX_TEST_PAIRS,
  MAX_FILE_TASKS,
} from './arc';
export {
  IDENTITY,
  BASIC_AUGMENTATIONS,
  augmentationsFor,
  augmentationsForTask,
  augmentPair,
  augmentTask,
  colourAugmentation,
  parseAugmentation,
  type AugmentationChoice,
  type GridAugmentation,
} from './augment';
export { tttExamples, tttExampleCount, type TttExample, type TttOptions } from './ttt';
export { voteOnAnswer, solved, type Vote, type Ballot, type Tally } from './vote';
export {
  parseRecipe,
  recipeText,
  recipeSteps,
  withinBudget,
  sampleRecipeUntilValid,
  randomRecipe,
  UNEVEN_RECIPES,
  LEARNING_RATE_RANGE,
  EPOCH_RANGE,
  type Recipe,
  type RecipeLoss,
  type RecipeParse,
} from './recipe';
export {
  PUZZLE_MARKERS,
  renderGrid,
  puzzlePrompt,
  answerCompletion,
  parseGridAnswer,
  recipePrompt,
  recipeCompletion,
  puzzleTrainingExample,
  recipeTrainingExample,
} from './text';
export { buildPuzzleTokenizer } from './puzzleTokenizer';
export {
  applyRecipe,
  answerPuzzle,
  type TestTimeTrainingSettings,
  type RecipeOutcome,
  type PuzzleAnswer,
} from './testTimeTraining';
export { tinyPuzzleModel } from './tinyModel';
export {
  generatePuzzleCorpus,
  puzzleCorpusStats,
  DEFAULT_PUZZLE_CORPUS_PARAMS,
  PUZZLE_DOCUMENT_KINDS,
  type PuzzleCorpus,
  type PuzzleCorpusDocument,
  type PuzzleCorpusParams,
  type PuzzleCorpusStats,
  type PuzzleDocumentKind,
} from './corpus';
export {
  measurePuzzleTask,
  summarizePuzzleMeasurements,
  randomRecipesFor,
  recipeFeatures,
  type TaskMeasurement,
  type RecipeTrial,
  type PuzzleMeasurementSummary,
} from './measure';
export {
  TRYOUT_SETTINGS,
  STARTING_RECIPE,
  tryoutSettings,
  recipeCost,
  type RecipeCost,
} from './tryout';
