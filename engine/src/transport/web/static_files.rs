//! The `static` service: files below a directory, as Crossbar.io serves
//! them (index.html for a directory, optional listings, extra content
//! types, caching and CORS fields), never a file outside the directory.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::service::{HttpRequest, HttpResponse, ResponseBody, cross_origin};
use crate::config::StaticService;

/// The most entries a directory listing shows, so a huge directory does
/// not make a huge page.
const MAX_LISTED_ENTRIES: usize = 1000;

/// The answer to a GET or HEAD for the file at `request.rest`.
pub(super) fn respond(config: &StaticService, request: &HttpRequest<'_>) -> HttpResponse {
    let response = match percent_decode(request.rest).and_then(|r| safe_join(&config.directory, &r))
    {
        None => not_found(config, request),
        Some(path) if path.is_dir() => directory(config, request, &path),
        Some(path) => file(config, request, &path).unwrap_or_else(|| not_found(config, request)),
    };
    cross_origin(response, request)
}

/// A directory: redirected to its `/` form, then its index.html, its
/// listing, or 404.
fn directory(config: &StaticService, request: &HttpRequest<'_>, path: &Path) -> HttpResponse {
    let request_path = request.head.path();
    if !request_path.ends_with('/') {
        let location = match request.head.query() {
            Some(query) => format!("{request_path}/?{query}"),
            None => format!("{request_path}/"),
        };
        return HttpResponse::error(301, "a directory: add a slash").with("Location", location);
    }
    if let Some(index) = file(config, request, &path.join("index.html")) {
        return index;
    }
    if config.enable_directory_listing {
        return listing(path, request_path);
    }
    not_found(config, request)
}

/// 404, or the `default_file` where one is configured.
fn not_found(config: &StaticService, request: &HttpRequest<'_>) -> HttpResponse {
    config
        .default_file
        .as_ref()
        .and_then(|default| file(config, request, &config.directory.join(default)))
        .unwrap_or_else(|| HttpResponse::error(404, "no such file"))
}

/// A regular file with its caching fields; `None` when there is none.
fn file(config: &StaticService, request: &HttpRequest<'_>, path: &Path) -> Option<HttpResponse> {
    let opened = std::fs::File::open(path).ok()?;
    let metadata = opened.metadata().ok()?;
    if !metadata.is_file() {
        return None;
    }
    let mut response = HttpResponse {
        status: 200,
        fields: vec![("Content-Type", content_type(config, path))],
        body: ResponseBody::File(opened, metadata.len()),
    };
    if let Ok(modified) = metadata.modified() {
        let unchanged = request
            .head
            .field("If-Modified-Since")
            .and_then(|since| httpdate::parse_http_date(since).ok())
            .is_some_and(|since| whole_seconds(modified) <= since);
        if unchanged {
            response.status = 304;
            response.body = ResponseBody::Bytes(Default::default());
        }
        response = response.with("Last-Modified", httpdate::fmt_http_date(modified));
    }
    if let Some(seconds) = config.cache_timeout_s {
        let expires = SystemTime::now() + Duration::from_secs(seconds);
        response = response
            .with("Cache-Control", format!("max-age={seconds}, public"))
            .with("Expires", httpdate::fmt_http_date(expires));
    }
    Some(response)
}

/// `time` without its fraction of a second, as HTTP dates carry it.
fn whole_seconds(time: SystemTime) -> SystemTime {
    let since_epoch = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs())
}

/// An HTML page listing `path`, whose URL path is `request_path`.
fn listing(path: &Path, request_path: &str) -> HttpResponse {
    let mut names: Vec<(String, bool)> = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .take(MAX_LISTED_ENTRIES)
                .map(|e| {
                    let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                    (e.file_name().to_string_lossy().into_owned(), is_dir)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let title = escape_html(request_path);
    let mut page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><ul>"
    );
    for (name, is_dir) in &names {
        let slash = if *is_dir { "/" } else { "" };
        let _ = write!(
            page,
            "<li><a href=\"{}{slash}\">{}{slash}</a></li>",
            percent_encode(name),
            escape_html(name)
        );
    }
    if names.len() == MAX_LISTED_ENTRIES {
        let _ = write!(page, "<li>(the first {MAX_LISTED_ENTRIES} entries)</li>");
    }
    page.push_str("</ul></body></html>");
    HttpResponse::new(200, "text/html; charset=utf-8", page)
}

/// `directory` + `relative`, refusing anything that would leave
/// `directory` (`..`, an absolute path).
fn safe_join(directory: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = directory.to_path_buf();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(path)
}

/// Decodes `%XX` escapes; `None` for a bad escape, a NUL or text that is
/// not UTF-8 (no file of ours has such a name).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// Escapes everything but RFC 3986's unreserved characters, for a link.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Text safe inside HTML.
pub(super) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The content type of `path`: the service's `mime_types` first, then the
/// common web types.
fn content_type(config: &StaticService, path: &Path) -> String {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(configured) = config.mime_types.get(&format!(".{extension}")) {
        return configured.clone();
    }
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" | "jgz" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_stay_inside_the_directory() {
        let root = Path::new("/srv/web");
        assert_eq!(
            safe_join(root, "a/b.html"),
            Some(PathBuf::from("/srv/web/a/b.html"))
        );
        assert_eq!(safe_join(root, "../etc/passwd"), None);
        assert_eq!(safe_join(root, "/etc/passwd"), None);
        let decoded = percent_decode("%2e%2e/%2E%2E/etc/passwd").unwrap();
        assert_eq!(safe_join(root, &decoded), None);
        let decoded = percent_decode("a%2F..%2F..%2Fetc").unwrap();
        assert_eq!(safe_join(root, &decoded), None);
    }

    #[test]
    fn percent_escapes() {
        assert_eq!(percent_decode("a%20b.html").as_deref(), Some("a b.html"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("a%00"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_encode("a b&.txt"), "a%20b%26.txt");
        assert_eq!(
            escape_html("<a href='x'>&"),
            "&lt;a href=&#39;x&#39;&gt;&amp;"
        );
    }
}
