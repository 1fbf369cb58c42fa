/**
 * Presentation shared by the CLI and the dashboard: pure functions from fleet data to words.
 * No Node-only API and no zod (the dashboard bundles this with Vite): contracts' types only, and
 * its zod-free subpaths.
 */
export { AGO_COMPACT, AGO_SPACED, type AgoStyle, formatAgo } from './ago.js';
export { escapeControls, escapeJsonControls, hasControls } from './controls.js';
export { countOf, finishedOf, openOf, type Progress, progressOf, totalOf } from './counts.js';
export { type GateWording, gateText, type SoakGate } from './gate.js';
export { type PlanWording, planLines, waveSizes, windowsText } from './plan.js';
export { formatBytes, formatPercent, percentOf } from './units.js';
