//! Which path service answers a request path, as Crossbar.io (Twisted
//! Web) resolves it: the first segment picks a service of `paths`, a
//! nested `path` service picks again with the next segment, and the `/`
//! service answers what no segment names.

use crate::config::{WebPaths, WebService};

/// The service that answers a path, and the part of the path below it.
#[derive(Debug)]
pub(super) struct Route<'a> {
    /// The path service.
    pub(super) service: &'a WebService,
    /// The path below the service's mount, without its leading `/`
    /// (still percent-encoded): the file a static service looks up.
    pub(super) rest: String,
}

/// The service for `path` (a request's path, `/` first), if any.
pub(super) fn find<'a>(paths: &'a WebPaths, path: &str) -> Option<Route<'a>> {
    let below = path.strip_prefix('/').unwrap_or(path);
    let (first, rest) = below.split_once('/').unwrap_or((below, ""));
    let named = (!first.is_empty())
        .then(|| paths.iter().find(|(name, _)| name == first))
        .flatten();
    match named {
        Some((_, WebService::Path(nested))) => find(nested, &format!("/{rest}")),
        Some((_, service)) => Some(Route {
            service,
            rest: rest.to_owned(),
        }),
        None => paths
            .iter()
            .find(|(name, _)| name == "/")
            .and_then(|(_, service)| match service {
                WebService::Path(nested) => find(nested, path),
                service => Some(Route {
                    service,
                    rest: below.to_owned(),
                }),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(url: &str) -> WebService {
        WebService::Redirect { url: url.into() }
    }

    fn url_of(route: Option<Route<'_>>) -> Option<(String, String)> {
        route.map(|r| match r.service {
            WebService::Redirect { url } => (url.clone(), r.rest),
            other => panic!("unexpected {other:?}"),
        })
    }

    #[test]
    fn segments_pick_services_and_the_root_takes_the_rest() {
        let paths: WebPaths = vec![
            ("/".into(), redirect("root")),
            ("a".into(), redirect("a")),
            (
                "api".into(),
                WebService::Path(vec![
                    ("v1".into(), redirect("v1")),
                    ("/".into(), redirect("api-root")),
                ]),
            ),
        ];
        let cases = [
            ("/", ("root", "")),
            ("/x/y.html", ("root", "x/y.html")),
            ("/a", ("a", "")),
            ("/a/b/c", ("a", "b/c")),
            ("/api/v1/x", ("v1", "x")),
            ("/api", ("api-root", "")),
            ("/api/other", ("api-root", "other")),
        ];
        for (path, (url, rest)) in cases {
            assert_eq!(
                url_of(find(&paths, path)),
                Some((url.to_owned(), rest.to_owned())),
                "{path}"
            );
        }
    }

    #[test]
    fn no_root_means_no_service() {
        let paths: WebPaths = vec![("a".into(), redirect("a"))];
        assert!(find(&paths, "/b").is_none());
        assert!(find(&paths, "/").is_none());
        let nested: WebPaths = vec![(
            "p".into(),
            WebService::Path(vec![("q".into(), redirect("q"))]),
        )];
        assert!(find(&nested, "/p/r").is_none());
        assert_eq!(
            url_of(find(&nested, "/p/q")),
            Some(("q".into(), String::new()))
        );
    }
}
