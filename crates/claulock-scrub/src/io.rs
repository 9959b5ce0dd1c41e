//! An `std::io::Write` adapter (feature `io`).

use std::io::{self, Write};

use crate::{Scrubber, Stream};

/// Writes everything through a scrubber into `inner`.
///
/// Call [`finish`](Self::finish) at the end of the stream: dropping the
/// writer without it would lose the held-back tail (which is never written
/// unscrubbed).
///
/// ```
/// use std::io::Write;
/// let s = claulock_scrub::Scrubber::builder().secret("K", "s3cr3t-v4lue-123").build().unwrap();
/// let mut w = claulock_scrub::ScrubWriter::new(&s, Vec::new());
/// w.write_all(b"key=s3cr3t-").unwrap();
/// w.write_all(b"v4lue-123\n").unwrap();
/// let out = w.finish().unwrap();
/// assert_eq!(out, b"key=[REDACTED:K]\n");
/// ```
#[derive(Debug)]
pub struct ScrubWriter<W: Write> {
    stream: Stream,
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> ScrubWriter<W> {
    /// Wraps `inner`.
    pub fn new(scrubber: &Scrubber, inner: W) -> Self {
        ScrubWriter {
            stream: scrubber.stream(),
            inner,
            buf: Vec::new(),
        }
    }

    /// Scrubs and writes the held-back tail, flushes, and returns `inner`.
    ///
    /// # Errors
    ///
    /// Any error of the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.buf.clear();
        self.stream.finish(&mut self.buf);
        self.inner.write_all(&self.buf)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// The stream's statistics so far.
    pub fn stats(&self) -> Vec<crate::Catch> {
        self.stream.stats()
    }
}

impl<W: Write> Write for ScrubWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.clear();
        self.stream.feed(data, &mut self.buf);
        self.inner.write_all(&self.buf)?;
        Ok(data.len())
    }

    /// Flushes what has been decided; held-back bytes stay held (flushing
    /// them early could split a secret).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
