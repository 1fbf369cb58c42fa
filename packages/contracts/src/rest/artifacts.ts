/**
 * `PUT /artifacts`, the upload a pipeline makes before publishing a patch: not a procedure (it
 * streams bytes), but in the OpenAPI document with the API it belongs to.
 */
import { z } from 'zod';
import { ArtifactUpload } from '../routers/patch.schema.js';
import { RestLimit } from './errors.js';

export const ARTIFACTS_PATH = '/artifacts';

/** The answer to an upload: what `POST /api/v1/patches` takes as `artifact`, and where it is kept. */
export const ArtifactStored = ArtifactUpload.extend({
  /** Where the bytes are (the store and the key or file). */
  storage: z.string(),
});

/** A refused upload. */
export const ArtifactRefusal = z.object({
  error: z.string(),
  /** UNAUTHORIZED, FORBIDDEN, INVALID_INPUT, UNSUPPORTED_ENCODING, TOO_LARGE, DIGEST_MISMATCH, TOO_MANY_REQUESTS, … */
  code: z.string(),
  /** DIGEST_MISMATCH: the digest announced in X-Content-SHA256 and the body's. */
  expected: z.string().optional(),
  actual: z.string().optional(),
  limit: RestLimit.optional(),
});
