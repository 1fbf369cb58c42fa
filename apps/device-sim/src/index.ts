export {
  buildProgram,
  type CliOptions,
  type CliParse,
  EXIT_BAD_FLAGS,
  EXIT_REJECTED,
  exitCodeOf,
  parseCli,
} from './cli.js';
export { CLOSE_CODES, Connection, type ConnectionOptions } from './connection.js';
export { type CredentialStore, Credentials, CredentialsFileError } from './credentials.js';
export {
  type CancelDecision,
  type CompletedDelivery,
  type DeviceEvent,
  type DeviceOptions,
  type DeviceRecord,
  type DeviceState,
  SimulatedDevice,
} from './device.js';
export {
  artifactMismatch,
  artifactUrl,
  authorizationOf,
  DownloadError,
  type Downloaded,
  type DownloadOptions,
  downloadArtifact,
} from './download.js';
export {
  cutOffsets,
  DEFAULT_FAULTS,
  type FaultOptions,
  faultProblem,
  type InstallPlan,
  MAX_DOWNLOAD_CUTS,
  nextBlipMs,
  planInstall,
  type Random,
} from './faults.js';
export { Fleet, type FleetOptions, urlsFor } from './fleet.js';
export { IdleTracker } from './idle.js';
export { deviceIdOf, deviceIds, prefixProblem } from './ids.js';
export { type LabelMap, parseLabels } from './labels.js';
export { DeliveryLedger, type OfferDecision } from './ledger.js';
export {
  classifyFailure,
  describeFailure,
  type FailureKind,
  isCredentialFailure,
  isReconnectFrame,
  rejectionOfFrame,
} from './outcome.js';
export { formatEvent, formatRejections, Reporter, type ReporterOptions } from './output.js';
export { ProgressThrottle } from './progress.js';
export {
  checkSignature,
  loadTrustedKeys,
  manifestOf,
  NO_SIGNATURE_POLICY,
  type SignatureCheck,
  type SignaturePolicy,
  type SignatureResult,
  TrustedKeyError,
} from './signatures.js';
export {
  type DeviceCounters,
  type DeviceSnapshot,
  emptyCounters,
  type FleetSummary,
  formatBytes,
  formatSummaryLine,
  summarize,
} from './summary.js';
