//! Streams polled inside a span: a task's output is produced when its
//! consumer polls, on whatever thread polls it, so the span is entered for
//! each poll (log lines of the work then carry the task's ids, and its
//! trace covers the work).

use futures::{Stream, StreamExt};

/// `stream`, with `span` entered whenever it is polled.
pub fn in_span<S>(span: tracing::Span, mut stream: S) -> impl Stream<Item = S::Item>
where
    S: Stream + Unpin,
{
    futures::stream::poll_fn(move |cx| {
        let _entered = span.enter();
        stream.poll_next_unpin(cx)
    })
}
