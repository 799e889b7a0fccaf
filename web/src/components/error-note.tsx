/** An error as the API gives it: what happened and what to do, announced to screen readers. */
export function ErrorNote({ error }: { error: { message: string; hint?: string | undefined } | null | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error.message}
      {error.hint && <span className="hint"> {error.hint}</span>}
    </p>
  );
}
