//! Files compiled into the binary (the management console's pages and
//! modules), served from memory: nothing is read from disk, so what runs
//! is what was built.

use bytes::Bytes;

use super::service::{HttpRequest, HttpResponse};
use crate::config::{EmbeddedFile, EmbeddedService};

/// The answer to a GET or HEAD for the file at `request.rest`.
pub(super) fn respond(service: &EmbeddedService, request: &HttpRequest<'_>) -> HttpResponse {
    let mut response = match find(&service.files, request.rest) {
        Some(file) => HttpResponse::new(200, file.content_type, Bytes::from_static(file.body))
            // A new binary may bring new files under the same names.
            .with("Cache-Control", "no-cache"),
        None => HttpResponse::error(404, "no such file"),
    };
    for (name, value) in service.fields.iter() {
        response = response.with(name, value.clone());
    }
    response
}

/// The file at `rest` (the path below the mount), `index.html` for the
/// mount itself.
fn find<'a>(files: &'a [EmbeddedFile], rest: &str) -> Option<&'a EmbeddedFile> {
    let path = if rest.is_empty() { "index.html" } else { rest };
    files.iter().find(|file| file.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: [EmbeddedFile; 2] = [
        EmbeddedFile {
            path: "index.html",
            content_type: "text/html",
            body: b"<html>",
        },
        EmbeddedFile {
            path: "app.js",
            content_type: "text/javascript",
            body: b"export {}",
        },
    ];

    #[test]
    fn the_mount_is_the_index_and_other_names_are_files_or_nothing() {
        assert_eq!(find(&FILES, "").map(|f| f.body), Some(&b"<html>"[..]));
        assert_eq!(
            find(&FILES, "app.js").map(|f| f.content_type),
            Some("text/javascript")
        );
        assert!(find(&FILES, "app.js/").is_none());
        assert!(find(&FILES, "../app.js").is_none());
        assert!(find(&FILES, "secret").is_none());
    }
}
