import { z } from 'zod';

const Flag = z.enum(['0', '1']);

/** The object-store and presigning knobs of the pod's environment, part of config.ts's Env. */
export const ARTIFACT_S3_ENV = {
  /** Another S3-compatible service (MinIO, Ceph, …); unset: AWS. */
  FLEET_S3_ENDPOINT: z.url().optional(),
  FLEET_S3_BUCKET: z.string().min(3).max(63).optional(),
  FLEET_S3_REGION: z.string().min(1).default('us-east-1'),
  /** Both or neither: unset, the SDK's default chain (environment, profile, instance role). */
  FLEET_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  FLEET_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  FLEET_S3_FORCE_PATH_STYLE: Flag.default('0'),
  /** Prepended to every key: `camfleet/` keeps artifacts at `camfleet/<sha256>`. */
  FLEET_S3_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._/-]{0,200}$/, 'letters, digits and . _ - / (at most 200)')
    .default(''),
  /** Offers carry presigned URLs (stores that can sign: s3); default on where the store can. */
  FLEET_ARTIFACT_PRESIGN: Flag.optional(),
  FLEET_ARTIFACT_URL_TTL_SECONDS: z.coerce.number().int().min(1).max(604_800).default(900),
};

const ArtifactS3Env = z.object(ARTIFACT_S3_ENV);
type ArtifactS3Env = z.infer<typeof ArtifactS3Env>;

export interface S3Config {
  bucket: string;
  prefix: string;
  region: string;
  endpoint: string | null;
  credentials: { accessKeyId: string; secretAccessKey: string } | null;
  forcePathStyle: boolean;
}

export interface PresignConfig {
  /** Offers and DDI links carry presigned URLs (the store can sign). */
  enabled: boolean;
  ttlSeconds: number;
}

/** The S3 settings (null unless the store is s3) and presigning; a problem's message, or the settings. */
export function artifactS3Of(
  store: string,
  e: ArtifactS3Env,
): { s3: S3Config | null; presign: PresignConfig } | { problem: string } {
  const presignable = store === 's3';
  if (e.FLEET_ARTIFACT_PRESIGN === '1' && !presignable)
    return {
      problem: `FLEET_ARTIFACT_PRESIGN: the ${store} store cannot presign (FLEET_ARTIFACT_STORE=s3 can)`,
    };
  const presign = {
    enabled: presignable && e.FLEET_ARTIFACT_PRESIGN !== '0',
    ttlSeconds: e.FLEET_ARTIFACT_URL_TTL_SECONDS,
  };
  if (!presignable) return { s3: null, presign };
  if (!e.FLEET_S3_BUCKET) return { problem: 'FLEET_S3_BUCKET is required when FLEET_ARTIFACT_STORE=s3' };
  if (!e.FLEET_S3_ACCESS_KEY_ID !== !e.FLEET_S3_SECRET_ACCESS_KEY)
    return { problem: 'FLEET_S3_ACCESS_KEY_ID and FLEET_S3_SECRET_ACCESS_KEY: set both or neither' };
  return {
    presign,
    s3: {
      bucket: e.FLEET_S3_BUCKET,
      prefix: e.FLEET_S3_PREFIX,
      region: e.FLEET_S3_REGION,
      endpoint: e.FLEET_S3_ENDPOINT ?? null,
      credentials:
        e.FLEET_S3_ACCESS_KEY_ID && e.FLEET_S3_SECRET_ACCESS_KEY
          ? { accessKeyId: e.FLEET_S3_ACCESS_KEY_ID, secretAccessKey: e.FLEET_S3_SECRET_ACCESS_KEY }
          : null,
      forcePathStyle: e.FLEET_S3_FORCE_PATH_STYLE === '1',
    },
  };
}
