import { type Manifest, manifestText, type Signature } from '@camfleet/contracts/forms';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/**
 * What publishing from the page needs beside tRPC, as the CLI does it: the file's SHA-256 (read
 * in slices, so a firmware image of gigabytes never sits in memory), its upload to `PUT /artifacts`
 * with that digest for the server to check, and an optional Ed25519 signature of the manifest.
 */

const SLICE = 4 * 1024 * 1024;

/** The SHA-256 (lowercase hex) of a file, read 4 MiB at a time. */
export async function digestOf(
  file: Blob,
  onProgress: (read: number) => void,
  signal: AbortSignal,
): Promise<string> {
  const hash = sha256.create();
  for (let at = 0; at < file.size; at += SLICE) {
    signal.throwIfAborted();
    hash.update(new Uint8Array(await file.slice(at, at + SLICE).arrayBuffer()));
    onProgress(Math.min(file.size, at + SLICE));
  }
  return bytesToHex(hash.digest());
}

/** What the server answers to an upload. */
export interface Stored {
  sha256: string;
  size: number;
  /** False when the server had these bytes already. */
  created: boolean;
}

/** The server's `{error}` or `{message}`, or the first line of its answer. */
function messageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    const text = parsed.error ?? parsed.message;
    if (typeof text === 'string') return text;
  } catch {
    // not JSON
  }
  return body.split('\n')[0]?.trim() ?? '';
}

/** A refused upload in words, by status (the CLI's cases). */
function refusal(status: number, body: string): string {
  const detail = `HTTP ${status}${messageOf(body) ? `: ${messageOf(body)}` : ''}`;
  if (status === 401 || status === 403) return `this token may not upload (${detail})`;
  if (status === 413) return `the file is too large for the server (${detail})`;
  if (status === 422)
    return `the server received other bytes than were hashed (${detail}): did the file change?`;
  return `upload failed (${detail})`;
}

/**
 * Streams the file to `PUT /artifacts` with its digest (`X-Content-SHA256`). XMLHttpRequest, not
 * fetch: it is the browser API that reports upload progress. The server's upload is one request
 * (not resumable): an upload cut off starts again from the first byte.
 */
export function uploadFile(options: {
  file: Blob;
  sha256: string;
  token: string;
  onProgress: (sent: number) => void;
  signal: AbortSignal;
}): Promise<Stored> {
  const { file, token, signal } = options;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', new URL('/artifacts', window.location.href).href);
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('x-content-sha256', options.sha256);
    xhr.upload.onprogress = (event) => options.onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status < 200 || xhr.status >= 300)
        return reject(new Error(refusal(xhr.status, xhr.responseText)));
      const answer = JSON.parse(xhr.responseText) as { sha256?: unknown; size?: unknown };
      if (answer.sha256 !== options.sha256 || answer.size !== file.size) {
        return reject(new Error(`the server stored sha256 ${String(answer.sha256)}, not ${options.sha256}`));
      }
      resolve({ sha256: options.sha256, size: file.size, created: xhr.status === 201 });
    };
    xhr.onerror = () =>
      reject(new Error('the upload was cut off (the server closed the connection or is unreachable)'));
    xhr.onabort = () => reject(new DOMException('upload canceled', 'AbortError'));
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

const base64 = (bytes: ArrayBuffer | Uint8Array) => btoa(String.fromCharCode(...new Uint8Array(bytes)));

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The DER inside a PEM private key (`fleet keys generate` writes PKCS#8). */
function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  const match = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (!match?.[1])
    throw new Error(
      'not a PKCS#8 private key (-----BEGIN PRIVATE KEY-----): use the .key.pem from fleet keys generate',
    );
  return fromBase64(match[1].replace(/\s+/g, ''));
}

/**
 * Signs the manifest with an Ed25519 private key (PEM), in the browser (WebCrypto): the key is
 * read from the chosen file and never leaves the page. The key id is the CLI's: the first 16 hex
 * characters of the SHA-256 of the raw public key.
 */
export async function signManifestInBrowser(manifest: Manifest, privateKeyPem: string): Promise<Signature> {
  if (!window.crypto?.subtle) throw new Error('signing needs a secure page (https or localhost)');
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('pkcs8', pemBody(privateKeyPem), { name: 'Ed25519' }, true, ['sign']);
  } catch (error) {
    throw new Error(`not an Ed25519 private key: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { x } = await crypto.subtle.exportKey('jwk', key);
  if (!x) throw new Error('the key has no public part');
  const keyId = bytesToHex(sha256(fromBase64(x))).slice(0, 16);
  const value = await crypto.subtle.sign(
    { name: 'Ed25519' },
    key,
    new TextEncoder().encode(manifestText(manifest)),
  );
  return { keyId, value: base64(value) };
}
