/** A pipeline's (or transaction's) replies without their error slots; the first error is thrown. */
export function pipelineValues(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('pipeline discarded');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
