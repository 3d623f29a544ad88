/**
 * The world's fixed vocabulary: trades, organisation types, devices and professions. Names are
 * invented per world; these common nouns are shared by every world so the language stays English.
 */

export interface Trade {
  /** The field an organisation works in and a city can be known for ("glassmaking"). */
  field: string;
  /** What an organisation of this trade is called ("glassworks"). */
  orgType: string;
  /** Devices of this trade, each with what it is for. */
  devices: readonly { device: string; purpose: string }[];
}

export const TRADES: readonly Trade[] = [
  {
    field: 'glassmaking',
    orgType: 'glassworks',
    devices: [
      { device: 'furnace', purpose: 'melting sand into glass' },
      { device: 'glass press', purpose: 'pressing glass into moulds' },
    ],
  },
  {
    field: 'shipbuilding',
    orgType: 'shipyard',
    devices: [
      { device: 'winch', purpose: 'hauling hulls onto the slipway' },
      { device: 'steam saw', purpose: 'cutting planks' },
    ],
  },
  {
    field: 'banking',
    orgType: 'bank',
    devices: [
      { device: 'counting machine', purpose: 'counting coins' },
      { device: 'ledger press', purpose: 'copying ledgers' },
    ],
  },
  {
    field: 'astronomy',
    orgType: 'observatory',
    devices: [
      { device: 'telescope', purpose: 'observing faint stars' },
      { device: 'star clock', purpose: 'timing the stars' },
    ],
  },
  {
    field: 'printing',
    orgType: 'printing house',
    devices: [
      { device: 'printing press', purpose: 'printing books' },
      { device: 'type caster', purpose: 'casting metal type' },
    ],
  },
  {
    field: 'weaving',
    orgType: 'weaving mill',
    devices: [
      { device: 'loom', purpose: 'weaving cloth' },
      { device: 'spinning frame', purpose: 'spinning yarn' },
    ],
  },
  {
    field: 'metalworking',
    orgType: 'foundry',
    devices: [
      { device: 'steam hammer', purpose: 'forging iron' },
      { device: 'casting ladle', purpose: 'pouring molten bronze' },
    ],
  },
  {
    field: 'medicine',
    orgType: 'infirmary',
    devices: [
      { device: 'breathing pump', purpose: 'helping patients breathe' },
      { device: 'sterilising oven', purpose: 'cleaning surgical tools' },
    ],
  },
  {
    field: 'brewing',
    orgType: 'brewery',
    devices: [
      { device: 'malt kiln', purpose: 'drying malt' },
      { device: 'wort cooler', purpose: 'cooling beer' },
    ],
  },
  {
    field: 'clockmaking',
    orgType: 'clock workshop',
    devices: [
      { device: 'escapement', purpose: 'keeping clocks accurate' },
      { device: 'gear cutter', purpose: 'cutting clock gears' },
    ],
  },
  {
    field: 'mapmaking',
    orgType: 'survey office',
    devices: [
      { device: 'theodolite', purpose: 'measuring angles in the field' },
      { device: 'plotting table', purpose: 'drawing maps' },
    ],
  },
  {
    field: 'dyeing',
    orgType: 'dye works',
    devices: [
      { device: 'dye vat', purpose: 'colouring cloth' },
      { device: 'pigment mill', purpose: 'grinding pigments' },
    ],
  },
];

export const PROFESSIONS: readonly string[] = [
  'engineer',
  'chemist',
  'physician',
  'merchant',
  'mechanic',
  'astronomer',
  'printer',
  'weaver',
  'glassblower',
  'shipwright',
  'clockmaker',
  'surveyor',
  'banker',
  'brewer',
  'dyer',
  'blacksmith',
];

export const SETTLEMENTS = ['city', 'town'] as const;
export type Settlement = (typeof SETTLEMENTS)[number];

/** Every lowercase word of the fixed vocabulary: invented names must never equal one of them. */
export function lexiconWords(): string[] {
  const phrases = [
    ...PROFESSIONS,
    ...SETTLEMENTS,
    ...TRADES.flatMap((t) => [
      t.field,
      t.orgType,
      ...t.devices.flatMap((d) => [d.device, d.purpose]),
    ]),
  ];
  return [...new Set(phrases.flatMap((p) => p.split(/\s+/)))];
}

/** "glassworks" → "Glassworks", "printing house" → "Printing House": the type as part of a name. */
export function titleCase(phrase: string): string {
  return phrase
    .split(' ')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}
