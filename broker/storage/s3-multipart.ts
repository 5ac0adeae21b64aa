// Multipart uploads to S3: the object in parts of `partBytes` (raised when it would need more than MAX_PARTS),
// uploaded in parallel within the request bound, then completed (with If-None-Match: * when conditional), or
// aborted when anything fails. A retried completion that meets its own earlier attempt counts as done.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { ObjectInfo } from './object-store.ts';
import { PreconditionFailedError } from './object-store.ts';
import { SkippedRequest, statusOf } from './s3-errors.ts';
import { slice, unquote } from './s3-http.ts';
import type { CallContext, S3Requester } from './s3-requests.ts';

/** S3's limit on a multipart upload's part count. */
export const MAX_PARTS = 10_000;

/** What multipart uploads need from the store. */
export interface MultipartHost {
  /** Part size; S3 needs at least 5 MiB but for the last part. */
  partBytes: number;
  /** SSE-KMS settings of every object written. */
  sse(): { ServerSideEncryption?: 'aws:kms'; SSEKMSKeyId?: string };
  mapError(err: unknown, key: string | undefined): unknown;
  headKey(key: string, s3Key: string): Promise<ObjectInfo | null>;
  etagOf(key: string, s3Key: string): Promise<string>;
}

export class MultipartUploader {
  readonly #s3: S3Requester;
  readonly #o: MultipartHost;
  /** Uploads started, and uploads aborted. */
  uploads = 0;
  aborts = 0;

  constructor(s3: S3Requester, host: MultipartHost) {
    this.#s3 = s3;
    this.#o = host;
  }

  async put(key: string, s3Key: string, parts: Buffer[], size: number, ifNoneMatch: boolean): Promise<ObjectInfo> {
    const partBytes = Math.max(this.#o.partBytes, Math.ceil(size / MAX_PARTS));
    const partCount = Math.ceil(size / partBytes);
    const created = await this.#s3
      .run('CreateMultipartUpload', { ambiguous: false }, () =>
        this.#s3.client.send(new CreateMultipartUploadCommand({ Bucket: this.#s3.bucket, Key: s3Key, ...this.#o.sse() })),
      )
      .catch((err) => {
        throw this.#o.mapError(err, key);
      });
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error(`CreateMultipartUpload ${JSON.stringify(key)}: no UploadId in the response`);
    this.uploads++;
    try {
      const etags = await this.#uploadParts(key, s3Key, uploadId, parts, size, partBytes, partCount);
      return await this.#complete(key, s3Key, uploadId, etags, size, ifNoneMatch);
    } catch (err) {
      await this.#abort(s3Key, uploadId);
      throw err instanceof PreconditionFailedError ? err : this.#o.mapError(err, key);
    }
  }

  /** Every part, in parallel; their ETags. The first failure stops the parts not yet sent. */
  async #uploadParts(
    key: string,
    s3Key: string,
    uploadId: string,
    parts: Buffer[],
    size: number,
    partBytes: number,
    partCount: number,
  ): Promise<string[]> {
    let failed = false;
    const uploads = await Promise.allSettled(
      Array.from({ length: partCount }, async (_, i) => {
        const start = i * partBytes;
        const end = Math.min(size, start + partBytes);
        const out = await this.#s3
          .run('UploadPart', { ambiguous: false }, () => {
            if (failed) throw new SkippedRequest('another part failed'); // the upload is being abandoned
            return this.#s3.client.send(
              new UploadPartCommand({
                Bucket: this.#s3.bucket,
                Key: s3Key,
                UploadId: uploadId,
                PartNumber: i + 1,
                Body: slice(parts, start, end),
                ContentLength: end - start,
              }),
            );
          })
          .catch((err) => {
            failed = true;
            throw err;
          });
        if (!out.ETag) {
          failed = true;
          throw new Error(`UploadPart ${i + 1} of ${JSON.stringify(key)}: no ETag in the response`);
        }
        return out.ETag;
      }),
    );
    // Settled, all of them: parts still uploading when the upload is aborted could outlive it.
    const rejected = uploads.filter((r) => r.status === 'rejected').map((r) => r.reason as unknown);
    if (rejected.length > 0) throw rejected.find((e) => !(e instanceof SkippedRequest)) ?? rejected[0];
    return uploads.map((r) => (r as PromiseFulfilledResult<string>).value);
  }

  /** CompleteMultipartUpload (conditional when `ifNoneMatch`); a retry may find its own earlier attempt done. */
  async #complete(key: string, s3Key: string, uploadId: string, etags: string[], size: number, ifNoneMatch: boolean): Promise<ObjectInfo> {
    const ctx: CallContext = { ambiguous: false };
    try {
      const done = await this.#s3.run('CompleteMultipartUpload', ctx, () =>
        this.#s3.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.#s3.bucket,
            Key: s3Key,
            UploadId: uploadId,
            MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
            ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
          }),
        ),
      );
      return { key, sizeBytes: size, etag: done.ETag ? unquote(done.ETag) : await this.#o.etagOf(key, s3Key) };
    } catch (err) {
      // A retry after an attempt that completed the upload finds it gone (404 NoSuchUpload) or, if
      // conditional, the object there (412): it is ours if it has our size and part count.
      const status = statusOf(err);
      if (ctx.ambiguous && (status === 404 || status === 412)) {
        const info = await this.#o.headKey(key, s3Key);
        if (info !== null && info.sizeBytes === size && info.etag.endsWith(`-${etags.length}`)) return info;
      }
      if (ifNoneMatch && status === 412) throw new PreconditionFailedError(key);
      throw err;
    }
  }

  async #abort(s3Key: string, uploadId: string): Promise<void> {
    this.aborts++;
    try {
      await this.#s3.run(
        'AbortMultipartUpload',
        { ambiguous: false },
        () => this.#s3.client.send(new AbortMultipartUploadCommand({ Bucket: this.#s3.bucket, Key: s3Key, UploadId: uploadId })),
        2,
      );
    } catch {
      // Best effort: a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes what is left.
    }
  }
}
