//! Property tests of the HTTP/1.1 request reader: any split of pipelined
//! requests into reads gives the same heads and bodies as one read, and
//! the bodies are the ones sent, whatever their framing.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use ringbar_protocol::http::{BodyDecoder, HttpError, HttpLimits, parse_head};

/// One request as the client sends it.
#[derive(Clone, Debug)]
struct Sent {
    method: &'static str,
    path: String,
    body: Vec<u8>,
    /// `None`: Content-Length; `Some(sizes)`: chunked, cut after these
    /// many bytes each.
    chunks: Option<Vec<usize>>,
}

impl Sent {
    fn wire(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: h\r\nX-A: b\r\n",
            self.method, self.path
        );
        match &self.chunks {
            None => out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len())),
            Some(_) => out.push_str("Transfer-Encoding: chunked\r\n\r\n"),
        }
        let mut out = out.into_bytes();
        match &self.chunks {
            None => out.extend_from_slice(&self.body),
            Some(sizes) => {
                let mut rest = &self.body[..];
                for size in sizes.iter().chain(std::iter::once(&usize::MAX)) {
                    let (chunk, after) =
                        rest.split_at((*size).clamp(1, rest.len().max(1)).min(rest.len()));
                    if !chunk.is_empty() {
                        out.extend_from_slice(format!("{:x};ext=1\r\n", chunk.len()).as_bytes());
                        out.extend_from_slice(chunk);
                        out.extend_from_slice(b"\r\n");
                    }
                    rest = after;
                }
                out.extend_from_slice(b"0\r\nTrailer-Field: v\r\n\r\n");
            }
        }
        out
    }
}

fn sent() -> impl Strategy<Value = Sent> {
    (
        prop_oneof![Just("GET"), Just("POST"), Just("PUT")],
        "/[a-z0-9/._-]{0,40}(\\?[a-z=&]{0,20})?",
        vec(any::<u8>(), 0..300),
        proptest::option::of(vec(1usize..100, 0..6)),
    )
        .prop_map(|(method, path, body, chunks)| Sent {
            method,
            path,
            body,
            chunks,
        })
}

/// The requests read, and how many bytes were left unread.
type Read = (Vec<(String, String, Vec<u8>)>, usize);

/// What the reader makes of `wire` fed in reads of the given sizes.
fn read_all(wire: &[u8], reads: &[usize]) -> Result<Read, HttpError> {
    let limits = HttpLimits::default();
    let mut input = BytesMut::new();
    let mut got = Vec::new();
    let mut current: Option<(String, String, BodyDecoder, BytesMut)> = None;
    let mut rest = wire;
    let mut sizes = reads.iter().cycle();
    while !rest.is_empty() {
        let take = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        input.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        loop {
            if let Some((method, target, decoder, body)) = current.as_mut() {
                if !decoder.decode(&mut input, body)? {
                    break;
                }
                got.push((method.clone(), target.clone(), body.to_vec()));
                current = None;
            }
            let Some((head, used)) = parse_head(&input, &limits)? else {
                break;
            };
            let _ = input.split_to(used);
            let decoder = BodyDecoder::new(head.framing(), &limits);
            current = Some((
                head.method().to_owned(),
                head.target().to_owned(),
                decoder,
                BytesMut::new(),
            ));
        }
    }
    Ok((got, input.len()))
}

proptest! {
    #[test]
    fn any_split_reads_the_same_requests(
        requests in vec(sent(), 1..5),
        reads in vec(1usize..64, 1..10),
    ) {
        let wire: Vec<u8> = requests.iter().flat_map(Sent::wire).collect();
        let whole = read_all(&wire, &[wire.len()]).unwrap();
        let split = read_all(&wire, &reads).unwrap();
        prop_assert_eq!(&whole, &split);
        let expected: Vec<(String, String, Vec<u8>)> = requests
            .iter()
            .map(|r| (r.method.to_owned(), r.path.clone(), r.body.clone()))
            .collect();
        prop_assert_eq!(whole, (expected, 0));
    }

    #[test]
    fn any_input_is_read_or_refused_with_a_status(data in vec(any::<u8>(), 0..600)) {
        if let Err(e) = read_all(&data, &[7]) {
            prop_assert!((400..=505).contains(&e.status()), "{e:?}");
        }
    }
}
