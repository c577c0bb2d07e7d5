//! SQL functions as the catalog declares them: their input parameters
//! (name, type, whether a default covers them) and the shape of their
//! result, so the bridge converts a call's `args` / `kwargs` to the
//! declared types and its result to `[value]`, `[{row}]`, `[[rows]]` or
//! `[]`.

use tokio_postgres::GenericClient;

/// One SQL function the bridge can call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Function {
    /// `"schema"."name"`, quoted for SQL.
    pub(crate) sql_name: String,
    /// `schema.name`, for messages.
    pub(crate) name: String,
    /// Its input parameters, in order.
    pub(crate) params: Vec<Param>,
    /// How many leading parameters have no default (must be given).
    pub(crate) required: usize,
    /// What it returns.
    pub(crate) shape: Shape,
}

/// One input parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    /// Its name, when declared (only named ones take `kwargs`).
    pub(crate) name: Option<String>,
    /// Its type as SQL spells it (`integer`, `text[]`).
    pub(crate) sql_type: String,
    /// `pg_type.typcategory`: `N` numeric, `B` boolean, `A` array, `S`
    /// string, ...
    pub(crate) category: char,
}

/// The shape of a function's result, and so of the WAMP result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One value: `[value]`.
    Scalar,
    /// One row (a composite type or OUT parameters): `[{column: value}]`.
    Row,
    /// A set (`SETOF`, `TABLE`): `[[...]]`.
    Set,
    /// `void`: `[]`.
    Void,
}

/// Why a function cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// No such function (or not visible to the bridge's user).
    Missing,
    /// Several functions of that name: a procedure is one function.
    Overloaded(Vec<String>),
    /// It returns `SETOF record` without OUT parameters, which SQL can
    /// only call with a column list.
    UntypedRecord,
}

/// The functions of `schema` named `name` (every function of the schema
/// when `name` is `None`), by name, with the overloads apart.
pub(crate) async fn functions(
    client: &impl GenericClient,
    schema: &str,
    name: Option<&str>,
) -> Result<Vec<(String, Result<Function, Unusable>)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT p.proname::text,
                    p.oid::regprocedure::text,
                    coalesce(p.proargnames, ARRAY[]::text[]),
                    coalesce(p.proargmodes::text[], ARRAY[]::text[]),
                    ARRAY(SELECT format_type(u.t, NULL) FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS u(t, i) ORDER BY u.i),
                    ARRAY(SELECT ty.typcategory::text FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS u(t, i) JOIN pg_type ty ON ty.oid = u.t ORDER BY u.i),
                    p.pronargdefaults::int4,
                    p.proretset,
                    p.prorettype = 'void'::regtype,
                    rt.typtype = 'c' OR p.prorettype = 'record'::regtype,
                    p.prorettype = 'record'::regtype AND p.proallargtypes IS NULL
             FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             JOIN pg_type rt ON rt.oid = p.prorettype
             WHERE p.prokind = 'f' AND n.nspname = $1 AND ($2::text IS NULL OR p.proname = $2)
               AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
             ORDER BY p.proname, p.oid",
            &[&schema, &name],
        )
        .await?;
    // (name, signature of its first overload, the function)
    let mut found: Vec<(String, String, Result<Function, Unusable>)> = Vec::new();
    for row in rows {
        let proname: String = row.get(0);
        let signature: String = row.get(1);
        if let Some((last, first, outcome)) = found.last_mut()
            && *last == proname
        {
            let mut signatures = match outcome {
                Err(Unusable::Overloaded(signatures)) => std::mem::take(signatures),
                _ => vec![first.clone()],
            };
            signatures.push(signature);
            *outcome = Err(Unusable::Overloaded(signatures));
            continue;
        }
        let function = describe(
            schema,
            &proname,
            row.get(2),
            row.get(3),
            row.get(4),
            row.get(5),
            row.get(6),
            (row.get(7), row.get(8), row.get(9), row.get(10)),
        );
        found.push((proname, signature, function));
    }
    let mut found: Vec<(String, Result<Function, Unusable>)> = found
        .into_iter()
        .map(|(name, _, function)| (name, function))
        .collect();
    if let Some(name) = name
        && found.is_empty()
    {
        found.push((name.to_owned(), Err(Unusable::Missing)));
    }
    Ok(found)
}

/// Splits `schema.name` (or `name`, in `public`).
pub(crate) fn split_name(qualified: &str) -> (&str, &str) {
    qualified.split_once('.').unwrap_or(("public", qualified))
}

/// `"text"` quoted as an SQL identifier.
pub(crate) fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[allow(clippy::too_many_arguments)]
fn describe(
    schema: &str,
    proname: &str,
    names: Vec<String>,
    modes: Vec<String>,
    types: Vec<String>,
    categories: Vec<String>,
    defaults: i32,
    (set, void, row, untyped): (bool, bool, bool, bool),
) -> Result<Function, Unusable> {
    if untyped {
        return Err(Unusable::UntypedRecord);
    }
    let params: Vec<Param> = types
        .into_iter()
        .zip(categories)
        .enumerate()
        .filter(|(index, _)| {
            // No modes: every parameter is IN.
            modes
                .get(*index)
                .is_none_or(|mode| matches!(mode.as_str(), "i" | "b" | "v"))
        })
        .map(|(index, (sql_type, category))| Param {
            name: names.get(index).filter(|n| !n.is_empty()).cloned(),
            sql_type,
            category: category.chars().next().unwrap_or('U'),
        })
        .collect();
    let defaults = usize::try_from(defaults).unwrap_or(0);
    Ok(Function {
        sql_name: format!("{}.{}", quote(schema), quote(proname)),
        name: format!("{schema}.{proname}"),
        required: params.len().saturating_sub(defaults),
        params,
        shape: match (set, void, row) {
            (true, _, _) => Shape::Set,
            (false, true, _) => Shape::Void,
            (false, false, true) => Shape::Row,
            (false, false, false) => Shape::Scalar,
        },
    })
}
