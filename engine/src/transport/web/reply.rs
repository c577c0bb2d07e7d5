//! Writing a response: the fields every response carries, the body, or a
//! file streamed in bounded chunks; each write within the transport's
//! `client_timeout`, so a client that stops reading is cut off.

use std::cell::RefCell;
use std::io::Read as _;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use ringbar_protocol::http::{self, RequestHead};

use super::service::{HttpResponse, ResponseBody};
use crate::config::WebOptions;
use crate::runtime::io::Stream;

/// The most bytes of a file held in memory at once, per connection.
const FILE_CHUNK_BYTES: usize = 64 * 1024;

/// What a response needs to know of the request it answers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Answering {
    /// A HEAD: the fields of the GET, no content.
    head_only: bool,
    /// The request's HTTP/1.x minor version.
    minor_version: u8,
}

impl Answering {
    /// A request that was read.
    pub(super) fn request(head: &RequestHead) -> Self {
        Self {
            head_only: head.method() == "HEAD",
            minor_version: head.minor_version(),
        }
    }

    /// A request refused before it could be read whole.
    pub(super) const REFUSED: Self = Self {
        head_only: false,
        minor_version: 1,
    };
}

/// Responses to pipelined requests held back while the next request is
/// already read, so that a run of them leaves in one write instead of one
/// write each. Held only while more requests are buffered: whoever is
/// about to wait (to read, or for a slow answer) flushes it first.
#[derive(Default)]
pub(super) struct Batch {
    frames: Vec<Bytes>,
    bytes: usize,
}

/// The most response bytes a [`Batch`] holds back: enough for a run of
/// small responses in one write. This and [`BATCH_FRAMES`] are speed
/// choices, not bounds on peers.
const BATCH_BYTES: usize = 64 * 1024;

/// The most buffers a [`Batch`] holds back (one `writev` takes them all).
const BATCH_FRAMES: usize = 64;

impl Batch {
    /// Whether responses are held back.
    pub(super) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Writes what is held back. `false` when the connection broke or
    /// timed out.
    pub(super) async fn flush(&mut self, stream: &Stream, options: &WebOptions) -> bool {
        if self.frames.is_empty() {
            return true;
        }
        self.bytes = 0;
        write_within(stream, std::mem::take(&mut self.frames), options).await
    }

    fn push(&mut self, frame: Bytes) {
        self.bytes += frame.len();
        self.frames.push(frame);
    }

    fn full(&self) -> bool {
        self.bytes >= BATCH_BYTES || self.frames.len() >= BATCH_FRAMES
    }
}

/// Writes `response` to the request `to` after what `batch` holds, or
/// holds it back too while `keep_alive` and there is room; `keep_alive`
/// says whether the connection stays open after it. `false` when the
/// connection broke.
pub(super) async fn write(
    stream: &Stream,
    batch: &mut Batch,
    to: Answering,
    response: HttpResponse,
    keep_alive: bool,
    tls: bool,
    options: &WebOptions,
) -> bool {
    let HttpResponse {
        status,
        fields,
        body,
    } = response;
    let length = match &body {
        ResponseBody::Bytes(bytes) => bytes.len() as u64,
        ResponseBody::File(_, length) => *length,
    };
    // RFC 9110 §6.4.1: these statuses never have content; HEAD gets the
    // fields of the GET without it.
    let no_content = matches!(status, 100..=199 | 204 | 304);
    let send_body = !no_content && !to.head_only;
    let date = http_date(SystemTime::now());
    let length_text = length.to_string();
    let hsts = options
        .hsts_max_age_s
        .filter(|_| tls)
        .map(|age| format!("max-age={age}"));
    let mut head_fields: Vec<(&str, &str)> = vec![("Date", &date), ("Server", "ringbar")];
    head_fields.extend(fields.iter().map(|(n, v)| (*n, v.as_str())));
    if !no_content {
        head_fields.push(("Content-Length", &length_text));
    }
    if let Some(hsts) = &hsts {
        head_fields.push(("Strict-Transport-Security", hsts));
    }
    match (keep_alive, to.minor_version) {
        (false, _) => head_fields.push(("Connection", "close")),
        (true, 0) => head_fields.push(("Connection", "keep-alive")),
        (true, _) => {}
    }
    let mut head = BytesMut::new();
    http::write_head(status, &head_fields, &mut head);
    batch.push(head.freeze());
    match body {
        ResponseBody::Bytes(bytes) => {
            if send_body && !bytes.is_empty() {
                batch.push(bytes);
            }
            (keep_alive && !batch.full()) || batch.flush(stream, options).await
        }
        ResponseBody::File(file, length) => {
            batch.flush(stream, options).await
                && (!send_body || stream_file(stream, file, length, options).await)
        }
    }
}

/// The `Date` field for `now`. It changes once a second, so each core
/// formats it once a second, not once per response.
fn http_date(now: SystemTime) -> Rc<str> {
    thread_local! {
        static DATE: RefCell<(u64, Rc<str>)> = RefCell::new((u64::MAX, Rc::from("")));
    }
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != second {
            *at = second;
            *text = Rc::from(httpdate::fmt_http_date(now));
        }
        text.clone()
    })
}

/// Writes `frames`, unless the client does not take them within
/// `client_timeout`. `false` when the connection broke or timed out.
async fn write_within(stream: &Stream, frames: Vec<Bytes>, options: &WebOptions) -> bool {
    let timeout = Duration::from_millis(options.client_timeout_ms);
    matches!(
        tokio::time::timeout(timeout, stream.write_all(frames)).await,
        Ok(Ok(()))
    )
}

/// Sends `length` bytes of `file`, a chunk at a time; each chunk is read
/// on tokio's blocking pool, so a slow disk does not stall the core.
async fn stream_file(
    stream: &Stream,
    mut file: std::fs::File,
    length: u64,
    options: &WebOptions,
) -> bool {
    let mut left = length;
    while left > 0 {
        let want = usize::try_from(left).map_or(FILE_CHUNK_BYTES, |l| l.min(FILE_CHUNK_BYTES));
        let read = tokio::task::spawn_blocking(move || {
            let mut chunk = vec![0; want];
            let result = file.read(&mut chunk).map(|n| {
                chunk.truncate(n);
                chunk
            });
            (file, result)
        })
        .await;
        let chunk = match read {
            Ok((back, Ok(chunk))) if !chunk.is_empty() => {
                file = back;
                chunk
            }
            // The file shrank or failed under us: the promised length
            // cannot be kept, so the connection ends.
            _ => return false,
        };
        left -= chunk.len() as u64;
        if !write_within(stream, vec![Bytes::from(chunk)], options).await {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_is_formatted_once_a_second_and_follows_the_clock() {
        let at = UNIX_EPOCH + Duration::from_millis(1_318_611_591_123);
        assert_eq!(&*http_date(at), "Fri, 14 Oct 2011 16:59:51 GMT");
        let again = http_date(at + Duration::from_millis(800));
        assert!(
            Rc::ptr_eq(&again, &http_date(at)),
            "the same second reuses its text"
        );
        assert_eq!(
            &*http_date(at + Duration::from_secs(1)),
            "Fri, 14 Oct 2011 16:59:52 GMT"
        );
    }
}
