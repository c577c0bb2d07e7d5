//! The message layouts, read once for every serializer.

use bytes::Bytes;

use super::DecodeError;
use super::format::{Format, MAX_ELEMENTS, Span};
use crate::id::RequestId;
use crate::message::{
    Abort, Arguments, Authenticate, Call, Cancel, Challenge, Error, Event, EventReceived, Goodbye,
    Hello, Interrupt, Invocation, Message, MessageType, Payload, Publish, Published, Register,
    Registered, Result as ResultMessage, Subscribe, Subscribed, Unregister, Unregistered,
    Unsubscribe, Unsubscribed, Welcome, Yield,
};
use crate::str::Str;
use crate::value::{Dict, Value};

/// Decodes one message in format `F`.
pub(crate) fn message<F: Format>(input: Bytes) -> Result<Message, DecodeError> {
    let mut spans = [(0, 0); MAX_ELEMENTS];
    let len = F::split_message(&input, &mut spans)?;
    let code = match len {
        0 => None,
        _ => F::read_uint(&input[spans[0].0..spans[0].1]),
    }
    .ok_or(DecodeError::NoType)?;
    let ty = MessageType::from_code(code).ok_or(DecodeError::UnknownType(code))?;
    let f = Fields::<F> {
        input: &input,
        spans: &spans,
        len,
        ty,
        _format: std::marker::PhantomData,
    };
    use MessageType as T;
    Ok(match ty {
        T::Hello => {
            f.expect_len(3, 3, "3")?;
            Message::Hello(Hello {
                realm: f.str(1, "Realm")?,
                details: f.dict(2, "Details")?,
            })
        }
        T::Welcome => {
            f.expect_len(3, 3, "3")?;
            Message::Welcome(Welcome {
                session: f.id(1, "Session", crate::id::SessionId::new)?,
                details: f.dict(2, "Details")?,
            })
        }
        T::Abort | T::Goodbye => {
            f.expect_len(3, 3, "3")?;
            let details = f.dict(1, "Details")?;
            let reason = f.str(2, "Reason")?;
            if ty == T::Abort {
                Message::Abort(Abort { details, reason })
            } else {
                Message::Goodbye(Goodbye { details, reason })
            }
        }
        T::Challenge => {
            f.expect_len(3, 3, "3")?;
            Message::Challenge(Challenge {
                authmethod: f.str(1, "AuthMethod")?,
                extra: f.dict(2, "Extra")?,
            })
        }
        T::Authenticate => {
            f.expect_len(3, 3, "3")?;
            Message::Authenticate(Authenticate {
                signature: f.str(1, "Signature")?,
                extra: f.dict(2, "Extra")?,
            })
        }
        T::Error => {
            f.expect_len(5, 7, "5 to 7")?;
            Message::Error(Error {
                request_type: f.uint(1, "REQUEST.Type")?,
                request: f.request(2)?,
                details: f.dict(3, "Details")?,
                error: f.str(4, "Error")?,
                payload: f.payload(5)?,
            })
        }
        T::Publish => {
            f.expect_len(4, 6, "4 to 6")?;
            Message::Publish(Publish {
                request: f.request(1)?,
                options: f.dict(2, "Options")?,
                topic: f.str(3, "Topic")?,
                payload: f.payload(4)?,
            })
        }
        T::Published => {
            f.expect_len(3, 3, "3")?;
            Message::Published(Published {
                request: f.request(1)?,
                publication: f.id(2, "Publication", crate::id::PublicationId::new)?,
            })
        }
        T::Subscribe => {
            f.expect_len(4, 4, "4")?;
            Message::Subscribe(Subscribe {
                request: f.request(1)?,
                options: f.dict(2, "Options")?,
                topic: f.str(3, "Topic")?,
            })
        }
        T::Subscribed => {
            f.expect_len(3, 3, "3")?;
            Message::Subscribed(Subscribed {
                request: f.request(1)?,
                subscription: f.id(2, "Subscription", crate::id::SubscriptionId::new)?,
            })
        }
        T::Unsubscribe => {
            f.expect_len(3, 3, "3")?;
            Message::Unsubscribe(Unsubscribe {
                request: f.request(1)?,
                subscription: f.id(2, "Subscription", crate::id::SubscriptionId::new)?,
            })
        }
        T::Unsubscribed => {
            f.expect_len(2, 3, "2 or 3")?;
            Message::Unsubscribed(Unsubscribed {
                request: f.request(1)?,
                details: f.optional_dict(2, "Details")?,
            })
        }
        T::Event => {
            f.expect_len(4, 6, "4 to 6")?;
            Message::Event(Event {
                subscription: f.id(1, "Subscription", crate::id::SubscriptionId::new)?,
                publication: f.id(2, "Publication", crate::id::PublicationId::new)?,
                details: f.dict(3, "Details")?,
                payload: f.payload(4)?,
            })
        }
        T::EventReceived => {
            f.expect_len(2, 5, "2 to 5")?;
            Message::EventReceived(EventReceived {
                publication: f.id(1, "Publication", crate::id::PublicationId::new)?,
                details: f.optional_dict(2, "Details")?,
                payload: f.payload(3)?,
            })
        }
        T::Call => {
            f.expect_len(4, 6, "4 to 6")?;
            Message::Call(Call {
                request: f.request(1)?,
                options: f.dict(2, "Options")?,
                procedure: f.str(3, "Procedure")?,
                payload: f.payload(4)?,
            })
        }
        T::Cancel | T::Interrupt => {
            f.expect_len(3, 3, "3")?;
            let request = f.request(1)?;
            let options = f.dict(2, "Options")?;
            if ty == T::Cancel {
                Message::Cancel(Cancel { request, options })
            } else {
                Message::Interrupt(Interrupt { request, options })
            }
        }
        T::Result => {
            f.expect_len(3, 5, "3 to 5")?;
            Message::Result(ResultMessage {
                request: f.request(1)?,
                details: f.dict(2, "Details")?,
                payload: f.payload(3)?,
            })
        }
        T::Register => {
            f.expect_len(4, 4, "4")?;
            Message::Register(Register {
                request: f.request(1)?,
                options: f.dict(2, "Options")?,
                procedure: f.str(3, "Procedure")?,
            })
        }
        T::Registered => {
            f.expect_len(3, 3, "3")?;
            Message::Registered(Registered {
                request: f.request(1)?,
                registration: f.id(2, "Registration", crate::id::RegistrationId::new)?,
            })
        }
        T::Unregister => {
            f.expect_len(3, 3, "3")?;
            Message::Unregister(Unregister {
                request: f.request(1)?,
                registration: f.id(2, "Registration", crate::id::RegistrationId::new)?,
            })
        }
        T::Unregistered => {
            f.expect_len(2, 3, "2 or 3")?;
            Message::Unregistered(Unregistered {
                request: f.request(1)?,
                details: f.optional_dict(2, "Details")?,
            })
        }
        T::Invocation => {
            f.expect_len(4, 6, "4 to 6")?;
            Message::Invocation(Invocation {
                request: f.request(1)?,
                registration: f.id(2, "Registration", crate::id::RegistrationId::new)?,
                details: f.dict(3, "Details")?,
                payload: f.payload(4)?,
            })
        }
        T::Yield => {
            f.expect_len(3, 5, "3 to 5")?;
            Message::Yield(Yield {
                request: f.request(1)?,
                options: f.dict(2, "Options")?,
                payload: f.payload(3)?,
            })
        }
    })
}

/// The elements of one message being decoded.
struct Fields<'a, F> {
    input: &'a Bytes,
    spans: &'a [Span; MAX_ELEMENTS],
    len: usize,
    ty: MessageType,
    _format: std::marker::PhantomData<F>,
}

impl<F: Format> Fields<'_, F> {
    fn expect_len(
        &self,
        min: usize,
        max: usize,
        expected: &'static str,
    ) -> Result<(), DecodeError> {
        if (min..=max).contains(&self.len) {
            Ok(())
        } else {
            Err(DecodeError::Length {
                message: self.ty,
                len: self.len,
                expected,
            })
        }
    }

    fn element(&self, at: usize) -> &[u8] {
        let (start, end) = self.spans[at];
        &self.input[start..end]
    }

    fn wrong(&self, field: &'static str, expected: &'static str) -> DecodeError {
        DecodeError::Field {
            message: self.ty,
            field,
            expected,
        }
    }

    fn uint(&self, at: usize, field: &'static str) -> Result<u64, DecodeError> {
        F::read_uint(self.element(at)).ok_or_else(|| self.wrong(field, "an integer"))
    }

    fn id<T>(
        &self,
        at: usize,
        field: &'static str,
        new: fn(u64) -> Option<T>,
    ) -> Result<T, DecodeError> {
        let value = self.uint(at, field)?;
        new(value).ok_or(DecodeError::IdRange {
            message: self.ty,
            field,
            value,
        })
    }

    fn request(&self, at: usize) -> Result<RequestId, DecodeError> {
        self.id(at, "Request", RequestId::new)
    }

    fn str(&self, at: usize, field: &'static str) -> Result<Str, DecodeError> {
        F::read_str(self.input, self.spans[at])?.ok_or_else(|| self.wrong(field, "a string"))
    }

    fn dict(&self, at: usize, field: &'static str) -> Result<Dict, DecodeError> {
        let element = self.element(at);
        if F::is_empty_dict(element) {
            return Ok(Dict::new());
        }
        match F::read_value(element)? {
            Value::Dict(d) => Ok(d),
            _ => Err(self.wrong(field, "a dictionary")),
        }
    }

    fn optional_dict(&self, at: usize, field: &'static str) -> Result<Option<Dict>, DecodeError> {
        if at < self.len {
            self.dict(at, field).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The payload elements starting at `at`: none, `Arguments`,
    /// `Arguments` + `ArgumentsKw`, or one transparent binary element.
    fn payload(&self, at: usize) -> Result<Payload, DecodeError> {
        if at >= self.len {
            return Ok(Payload::Empty);
        }
        let args = self.element(at);
        if !F::is_list(args) {
            if self.len == at + 1
                && let Some(bin) = F::read_binary(self.input, self.spans[at])?
            {
                return Ok(Payload::Transparent(bin));
            }
            return Err(self.wrong("Arguments", "a list (or one binary payload)"));
        }
        let kwargs = if self.len > at + 1 {
            if !F::is_dict(self.element(at + 1)) {
                return Err(self.wrong("ArgumentsKw", "a dictionary"));
            }
            let (start, end) = self.spans[at + 1];
            Some(self.input.slice(start..end))
        } else {
            None
        };
        let (start, end) = self.spans[at];
        Ok(Payload::Arguments(Arguments {
            serializer: F::SERIALIZER,
            args: self.input.slice(start..end),
            kwargs,
        }))
    }
}
