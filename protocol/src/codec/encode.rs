//! The message layouts, written once for every serializer.

use bytes::BytesMut;

use super::EncodeError;
use super::format::Format;
use crate::message::{
    Abort, Authenticate, Cancel, Challenge, Goodbye, Interrupt, Message, Payload,
    Result as ResultMessage, Unregistered, Unsubscribed, Yield,
};
use crate::value::Dict;

/// Appends `message` in format `F` to `out`.
pub(crate) fn message<F: Format>(message: &Message, out: &mut BytesMut) -> Result<(), EncodeError> {
    let mut w = Writer::<F> {
        out,
        first: true,
        _format: std::marker::PhantomData,
    };
    let code = message.message_type().code();
    match message {
        Message::Hello(m) => {
            w.start(3, code);
            w.str(&m.realm);
            w.dict(&m.details)?;
        }
        Message::Welcome(m) => {
            w.start(3, code);
            w.uint(m.session.get());
            w.dict(&m.details)?;
        }
        Message::Abort(Abort { details, reason })
        | Message::Goodbye(Goodbye { details, reason }) => {
            w.start(3, code);
            w.dict(details)?;
            w.str(reason);
        }
        Message::Challenge(Challenge {
            authmethod: text,
            extra,
        })
        | Message::Authenticate(Authenticate {
            signature: text,
            extra,
        }) => {
            w.start(3, code);
            w.str(text);
            w.dict(extra)?;
        }
        Message::Error(m) => {
            w.start(5 + payload_len(&m.payload), code);
            w.uint(m.request_type);
            w.uint(m.request.get());
            w.dict(&m.details)?;
            w.str(&m.error);
            w.payload(&m.payload)?;
        }
        Message::Publish(m) => {
            w.start(4 + payload_len(&m.payload), code);
            w.uint(m.request.get());
            w.dict(&m.options)?;
            w.str(&m.topic);
            w.payload(&m.payload)?;
        }
        Message::Published(m) => {
            w.start(3, code);
            w.uint(m.request.get());
            w.uint(m.publication.get());
        }
        Message::Subscribe(m) => {
            w.start(4, code);
            w.uint(m.request.get());
            w.dict(&m.options)?;
            w.str(&m.topic);
        }
        Message::Subscribed(m) => {
            w.start(3, code);
            w.uint(m.request.get());
            w.uint(m.subscription.get());
        }
        Message::Unsubscribe(m) => {
            w.start(3, code);
            w.uint(m.request.get());
            w.uint(m.subscription.get());
        }
        Message::Unsubscribed(Unsubscribed { request, details })
        | Message::Unregistered(Unregistered { request, details }) => {
            w.start(2 + usize::from(details.is_some()), code);
            w.uint(request.get());
            if let Some(d) = details {
                w.dict(d)?;
            }
        }
        Message::Event(m) => {
            w.start(4 + payload_len(&m.payload), code);
            w.uint(m.subscription.get());
            w.uint(m.publication.get());
            w.dict(&m.details)?;
            w.payload(&m.payload)?;
        }
        Message::EventReceived(m) => {
            // A payload needs the details before it.
            let details = match (&m.details, &m.payload) {
                (None, Payload::Empty) => None,
                (d, _) => Some(d.clone().unwrap_or_default()),
            };
            w.start(
                2 + usize::from(details.is_some()) + payload_len(&m.payload),
                code,
            );
            w.uint(m.publication.get());
            if let Some(d) = &details {
                w.dict(d)?;
            }
            w.payload(&m.payload)?;
        }
        Message::Call(m) => {
            w.start(4 + payload_len(&m.payload), code);
            w.uint(m.request.get());
            w.dict(&m.options)?;
            w.str(&m.procedure);
            w.payload(&m.payload)?;
        }
        Message::Cancel(Cancel { request, options })
        | Message::Interrupt(Interrupt { request, options }) => {
            w.start(3, code);
            w.uint(request.get());
            w.dict(options)?;
        }
        Message::Result(ResultMessage {
            request,
            details: dict,
            payload,
        })
        | Message::Yield(Yield {
            request,
            options: dict,
            payload,
        }) => {
            w.start(3 + payload_len(payload), code);
            w.uint(request.get());
            w.dict(dict)?;
            w.payload(payload)?;
        }
        Message::Register(m) => {
            w.start(4, code);
            w.uint(m.request.get());
            w.dict(&m.options)?;
            w.str(&m.procedure);
        }
        Message::Registered(m) => {
            w.start(3, code);
            w.uint(m.request.get());
            w.uint(m.registration.get());
        }
        Message::Unregister(m) => {
            w.start(3, code);
            w.uint(m.request.get());
            w.uint(m.registration.get());
        }
        Message::Invocation(m) => {
            w.start(4 + payload_len(&m.payload), code);
            w.uint(m.request.get());
            w.uint(m.registration.get());
            w.dict(&m.details)?;
            w.payload(&m.payload)?;
        }
    }
    F::list_end(w.out);
    Ok(())
}

/// How many list elements a payload takes.
fn payload_len(payload: &Payload) -> usize {
    match payload {
        Payload::Empty => 0,
        Payload::Arguments(a) => 1 + usize::from(a.kwargs.is_some()),
        Payload::Transparent(_) => 1,
    }
}

/// Writes the elements of one message, with the separators between them.
struct Writer<'a, F> {
    out: &'a mut BytesMut,
    first: bool,
    _format: std::marker::PhantomData<F>,
}

impl<F: Format> Writer<'_, F> {
    fn start(&mut self, len: usize, code: u64) {
        F::list_start(len, self.out);
        self.uint(code);
    }

    fn sep(&mut self) {
        if !self.first {
            F::list_sep(self.out);
        }
        self.first = false;
    }

    fn uint(&mut self, v: u64) {
        self.sep();
        F::write_uint(v, self.out);
    }

    fn str(&mut self, v: &str) {
        self.sep();
        F::write_str(v, self.out);
    }

    fn dict(&mut self, d: &Dict) -> Result<(), EncodeError> {
        self.sep();
        F::write_dict(d, self.out, 0)
    }

    /// Splices raw payload bytes in the same serializer, transcodes others.
    fn payload(&mut self, payload: &Payload) -> Result<(), EncodeError> {
        match payload {
            Payload::Empty => {}
            Payload::Transparent(bin) => {
                self.sep();
                F::write_binary(bin, self.out);
            }
            Payload::Arguments(a) => {
                for raw in std::iter::once(&a.args).chain(a.kwargs.as_ref()) {
                    self.sep();
                    if a.serializer == F::SERIALIZER {
                        self.out.extend_from_slice(raw);
                    } else {
                        let value = super::decode_value(a.serializer, raw)
                            .map_err(EncodeError::Transcode)?;
                        F::write_value(&value, self.out, 0)?;
                    }
                }
            }
        }
        Ok(())
    }
}
