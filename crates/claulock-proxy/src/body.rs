//! Bodies rewritten as they stream: a request body through its
//! [`BodyRewriter`], a response body decompressed and scrubbed. Each frame
//! is transformed as it arrives, so memory stays bounded by a frame and
//! the longest pattern, whatever the body's size.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};

use crate::BoxError;
use crate::rewrite::BodyRewriter;

/// A body type-erased for hyper.
pub(crate) type BoxBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// A transformation of a byte stream.
pub(crate) trait Transform: Send + Sync + Unpin + 'static {
    /// Transforms `chunk`, appending what is decided to `out`.
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), BoxError>;
    /// The end of the stream.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), BoxError>;
    /// Trailers, rewritten like headers.
    fn trailers(&mut self, trailers: hyper::HeaderMap) -> hyper::HeaderMap {
        trailers
    }
}

/// `inner`, transformed.
pub(crate) struct Transformed<T> {
    inner: BoxBody,
    transform: T,
    /// Trailers that arrived: sent after the transform's last bytes.
    trailers: Option<hyper::HeaderMap>,
    done: bool,
}

impl<T: Transform> Transformed<T> {
    pub(crate) fn wrap(inner: BoxBody, transform: T) -> BoxBody {
        BoxBody::new(Transformed {
            inner,
            transform,
            trailers: None,
            done: false,
        })
    }
}

impl<T: Transform> Body for Transformed<T> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(f) => f,
            };
            let mut out = Vec::new();
            match frame {
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.transform.feed(&data, &mut out)?,
                    Err(frame) => {
                        if let Ok(t) = frame.into_trailers() {
                            this.trailers = Some(this.transform.trailers(t));
                        }
                        this.done = true;
                        this.transform.finish(&mut out)?;
                    }
                },
                None => {
                    this.done = true;
                    this.transform.finish(&mut out)?;
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.trailers.is_none()
    }
}

/// What a body's transformation tells at its end (for the audit log).
pub(crate) type Report<T> = Box<dyn FnOnce(T) + Send + Sync>;

/// What a request body's rewriting tells at its end.
pub(crate) type RewriteReport = Box<dyn FnOnce(&BodyRewriter) + Send + Sync>;

/// A request body: surrogates swapped where the secret allows it, and
/// counted where not; `report` gets the rewriter at the end (for the
/// audit log).
pub(crate) struct RequestBody {
    pub(crate) rewriter: BodyRewriter,
    pub(crate) report: Option<RewriteReport>,
}

/// A body is not always polled to its end (hyper stops once it has sent
/// `Content-Length` bytes): what was counted is reported when it is
/// dropped, if not before.
impl Drop for RequestBody {
    fn drop(&mut self) {
        if let Some(report) = self.report.take() {
            report(&self.rewriter);
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let Some(report) = self.report.take() {
            report(self.stream.stats());
        }
    }
}

impl Transform for RequestBody {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), BoxError> {
        self.rewriter.feed(chunk, out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), BoxError> {
        self.rewriter.finish(out);
        if let Some(report) = self.report.take() {
            report(&self.rewriter);
        }
        Ok(())
    }
}

/// How a response body is compressed.
pub(crate) enum Decoder {
    Gzip(flate2::write::MultiGzDecoder<Vec<u8>>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
}

impl Decoder {
    /// The decoder for a `Content-Encoding`; `Ok(None)`: not compressed;
    /// `Err`: one the proxy cannot read.
    pub(crate) fn for_encoding(encoding: &str) -> Result<Option<Decoder>, String> {
        match encoding.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(None),
            "gzip" | "x-gzip" => Ok(Some(Decoder::Gzip(flate2::write::MultiGzDecoder::new(
                Vec::new(),
            )))),
            "deflate" => Ok(Some(Decoder::Deflate(flate2::write::ZlibDecoder::new(
                Vec::new(),
            )))),
            other => Err(other.to_owned()),
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Decoder::Gzip(d) => {
                d.write_all(chunk)?;
                Ok(std::mem::take(d.get_mut()))
            }
            Decoder::Deflate(d) => {
                d.write_all(chunk)?;
                Ok(std::mem::take(d.get_mut()))
            }
        }
    }

    fn finish(&mut self) -> std::io::Result<Vec<u8>> {
        match self {
            Decoder::Gzip(d) => {
                d.try_finish()?;
                Ok(std::mem::take(d.get_mut()))
            }
            Decoder::Deflate(d) => {
                d.try_finish()?;
                Ok(std::mem::take(d.get_mut()))
            }
        }
    }
}

/// A response body: decompressed (if it was), then every form of the
/// run's values replaced by their surrogates; `report` gets what was
/// caught at the end.
pub(crate) struct ResponseBody {
    pub(crate) decoder: Option<Decoder>,
    pub(crate) stream: claulock_scrub::Stream,
    pub(crate) scrubber: claulock_scrub::Scrubber,
    pub(crate) report: Option<Report<Vec<claulock_scrub::Catch>>>,
}

impl Transform for ResponseBody {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), BoxError> {
        match &mut self.decoder {
            Some(d) => {
                let plain = d.feed(chunk)?;
                self.stream.feed(&plain, out);
            }
            None => self.stream.feed(chunk, out),
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), BoxError> {
        if let Some(d) = &mut self.decoder {
            let plain = d.finish()?;
            self.stream.feed(&plain, out);
        }
        self.stream.finish(out);
        if let Some(report) = self.report.take() {
            report(self.stream.stats());
        }
        Ok(())
    }

    fn trailers(&mut self, trailers: hyper::HeaderMap) -> hyper::HeaderMap {
        crate::serve::scrub_headers(&self.scrubber, trailers)
    }
}
