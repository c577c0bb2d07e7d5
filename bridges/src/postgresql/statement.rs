//! One call of an SQL function as one statement: the call's `args` and
//! `kwargs` become a JSON object that `jsonb_to_record` turns into a row
//! of the declared parameter types (so PostgreSQL does every conversion,
//! arrays and composites included), and the result is rendered as JSON by
//! `to_jsonb`. Wrong counts, unknown names and plainly wrong JSON kinds
//! are refused here with a message naming the parameter.
//!
//! The caller's identity is set by the same statement, transaction-local
//! (its implicit transaction): one statement per call, where a
//! transaction of its own (BEGIN, set, call, COMMIT) took four. The
//! settings are made in a FROM item that the planner cannot flatten
//! (`OFFSET 0`), and the function is called in the select list, which is
//! evaluated only for a row of the FROM items: after the settings.

use ringbar_client::{Dict, Value};

use super::catalog::{Function, Param, Shape, quote};

/// The FROM item that sets the caller's identity from `$1`..`$3`.
const SET_CALLER: &str = "(SELECT set_config('ringbar.caller_authid', $1, true), \
     set_config('ringbar.caller_authrole', $2, true), \
     set_config('ringbar.caller_session', $3, true) OFFSET 0) AS caller";
/// How many parameters [`SET_CALLER`] takes.
const CALLER_PARAMS: usize = 3;

/// The statement and its parameters, or why the arguments do not fit
/// the function.
#[derive(Debug, PartialEq)]
pub(crate) struct Statement {
    /// The SQL: one row of one text column, the result as JSON.
    pub(crate) sql: String,
    /// `$1`..`$3`, when the caller is known: its authid, authrole and
    /// session.
    pub(crate) caller: Option<[String; 3]>,
    /// The next parameter, when the function takes arguments:
    /// `{"p0": ..., "p2": ...}`.
    pub(crate) record: Option<Value>,
}

/// The statement that calls `function` with `args` and `kwargs`, setting
/// the identity of `caller` (authid, authrole, session) first.
pub(crate) fn call(
    function: &Function,
    args: &[Value],
    kwargs: &Dict,
    caller: Option<[String; 3]>,
) -> Result<Statement, String> {
    let name = &function.name;
    if args.len() > function.params.len() {
        return Err(format!(
            "{name} takes at most {} positional arguments, got {}",
            function.params.len(),
            args.len()
        ));
    }
    // (parameter index, value), in call order: positional, then by name.
    let mut given: Vec<(usize, &Value)> = args.iter().enumerate().collect();
    for (key, value) in kwargs.iter() {
        let Some(index) = function
            .params
            .iter()
            .position(|p| p.name.as_deref() == Some(key))
        else {
            return Err(format!("{name} has no parameter {key:?}"));
        };
        if index < args.len() {
            return Err(format!(
                "{name}: parameter {key:?} is given both by position and by name"
            ));
        }
        given.push((index, value));
    }
    let mut covered = vec![false; function.params.len()];
    for &(index, value) in &given {
        if let Some(slot) = covered.get_mut(index) {
            *slot = true;
        }
        if let Some(param) = function.params.get(index) {
            check_kind(name, index, param, value)?;
        }
    }
    if let Some(missing) =
        (0..function.required).find(|&i| !covered.get(i).copied().unwrap_or(true))
    {
        return Err(format!(
            "{name}: parameter {} is missing (it has no default)",
            label(function.params.get(missing), missing)
        ));
    }
    // Named arguments must follow positional ones in SQL; a parameter
    // without a name past the positional ones cannot be given.
    let mut call_args = Vec::with_capacity(given.len());
    let mut columns = Vec::with_capacity(given.len());
    let mut record = Dict::new();
    for &(index, value) in &given {
        let param = function.params.get(index).ok_or("no such parameter")?;
        let column = format!("p{index}");
        columns.push(format!("{column} {}", param.sql_type));
        call_args.push(if index < args.len() {
            format!("a.{column}")
        } else {
            format!(
                "{} => a.{column}",
                quote(param.name.as_deref().unwrap_or_default())
            )
        });
        record.insert(column, value.clone());
    }
    let call = format!("{}({})", function.sql_name, call_args.join(", "));
    let result = match function.shape {
        Shape::Scalar => format!("to_jsonb({call})"),
        Shape::Void => call,
        Shape::Row => format!("(SELECT to_jsonb(r) FROM {call} AS r)"),
        Shape::Set => {
            format!("(SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM {call} AS r)")
        }
    };
    let mut from = Vec::with_capacity(2);
    if caller.is_some() {
        from.push(SET_CALLER.to_owned());
    }
    if !given.is_empty() {
        let record = if caller.is_some() {
            CALLER_PARAMS + 1
        } else {
            1
        };
        from.push(format!(
            "jsonb_to_record(${record}::text::jsonb) AS a({})",
            columns.join(", ")
        ));
    }
    let sql = match from.is_empty() {
        true => format!("SELECT {result}::text"),
        false => format!("SELECT {result}::text FROM {}", from.join(", ")),
    };
    Ok(Statement {
        sql,
        caller,
        record: (!given.is_empty()).then_some(Value::Dict(record)),
    })
}

/// The WAMP result of a statement's JSON (`None`: no row, or SQL NULL).
pub(crate) fn result(shape: Shape, json: Option<Value>) -> Vec<Value> {
    match shape {
        Shape::Void => Vec::new(),
        Shape::Set => vec![json.unwrap_or(Value::List(Vec::new()))],
        Shape::Scalar | Shape::Row => vec![json.unwrap_or(Value::Null)],
    }
}

/// Refuses a JSON value that no text form of the parameter's type takes:
/// a message naming the parameter beats PostgreSQL's "invalid input
/// syntax". Strings pass (PostgreSQL parses them), as does null.
fn check_kind(function: &str, index: usize, param: &Param, value: &Value) -> Result<(), String> {
    let fits = match (param.category, value) {
        (_, Value::Null | Value::Str(_)) => true,
        ('N', v) => matches!(v, Value::UInt(_) | Value::Int(_) | Value::Float(_)),
        ('B', v) => matches!(v, Value::Bool(_)),
        ('A', v) => matches!(v, Value::List(_)),
        ('S' | 'D', v) => !matches!(v, Value::List(_) | Value::Dict(_)),
        _ => true,
    };
    if fits {
        return Ok(());
    }
    Err(format!(
        "{function}: parameter {} takes {}, not a {}",
        label(Some(param), index),
        param.sql_type,
        value.type_name()
    ))
}

/// How messages name parameter `index`.
fn label(param: Option<&Param>, index: usize) -> String {
    match param.and_then(|p| p.name.as_deref()) {
        Some(name) => format!("{name:?}"),
        None => format!("${}", index + 1),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn add2() -> Function {
        Function {
            sql_name: "\"public\".\"add2\"".into(),
            name: "public.add2".into(),
            params: vec![
                Param {
                    name: Some("a".into()),
                    sql_type: "integer".into(),
                    category: 'N',
                },
                Param {
                    name: Some("b".into()),
                    sql_type: "integer".into(),
                    category: 'N',
                },
            ],
            required: 1,
            shape: Shape::Scalar,
        }
    }

    fn kwargs(pairs: &[(&str, Value)]) -> Dict {
        pairs.iter().cloned().collect()
    }

    #[test]
    fn args_are_positional_and_kwargs_named() {
        let statement = call(
            &add2(),
            &[Value::from(1u64)],
            &kwargs(&[("b", 2u64.into())]),
            None,
        )
        .unwrap();
        assert_eq!(
            statement.sql,
            "SELECT to_jsonb(\"public\".\"add2\"(a.p0, \"b\" => a.p1))::text FROM jsonb_to_record($1::text::jsonb) AS a(p0 integer, p1 integer)"
        );
        assert_eq!(statement.caller, None);
        assert_eq!(
            statement.record,
            Some(Value::Dict(kwargs(&[
                ("p0", 1u64.into()),
                ("p1", 2u64.into())
            ])))
        );
    }

    #[test]
    fn each_shape_has_its_statement() {
        let mut function = add2();
        function.params.clear();
        function.required = 0;
        for (shape, sql) in [
            (
                Shape::Scalar,
                "SELECT to_jsonb(\"public\".\"add2\"())::text",
            ),
            (Shape::Void, "SELECT \"public\".\"add2\"()::text"),
            (
                Shape::Row,
                "SELECT (SELECT to_jsonb(r) FROM \"public\".\"add2\"() AS r)::text",
            ),
            (
                Shape::Set,
                "SELECT (SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM \"public\".\"add2\"() AS r)::text",
            ),
        ] {
            function.shape = shape;
            let statement = call(&function, &[], &Dict::new(), None).unwrap();
            assert_eq!((statement.sql.as_str(), statement.record), (sql, None));
        }
        assert_eq!(result(Shape::Void, None), Vec::<Value>::new());
        assert_eq!(result(Shape::Set, None), vec![Value::List(Vec::new())]);
        assert_eq!(
            result(Shape::Scalar, Some(1u64.into())),
            vec![Value::from(1u64)]
        );
    }

    #[test]
    fn the_caller_is_set_before_the_call_in_the_same_statement() {
        let alice = || Some(["alice".into(), "user".into(), "1".into()]);
        let statement = call(&add2(), &[Value::from(1u64)], &Dict::new(), alice()).unwrap();
        assert_eq!(
            statement.sql,
            format!(
                "SELECT to_jsonb(\"public\".\"add2\"(a.p0))::text FROM {SET_CALLER}, jsonb_to_record($4::text::jsonb) AS a(p0 integer)"
            )
        );
        assert_eq!(statement.caller, alice());
        let mut function = add2();
        function.params.clear();
        function.required = 0;
        let statement = call(&function, &[], &Dict::new(), alice()).unwrap();
        assert_eq!(
            statement.sql,
            format!("SELECT to_jsonb(\"public\".\"add2\"())::text FROM {SET_CALLER}")
        );
    }

    fn value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from_i64),
            ".{0,8}".prop_map(Value::Str),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            proptest::collection::vec(inner, 0..3).prop_map(Value::List)
        })
    }

    proptest::proptest! {
        /// Whatever a caller sends, the bridge has a statement whose
        /// record holds exactly the columns it declares, or a reason.
        #[test]
        fn any_arguments_give_a_statement_or_a_reason(
            args in proptest::collection::vec(value(), 0..4),
            kwargs in proptest::collection::vec(("[a-c\"]{1,2}", value()), 0..3),
        ) {
            let kwargs: Dict = kwargs.into_iter().collect();
            match call(&add2(), &args, &kwargs, None) {
                Ok(statement) => {
                    let record = match statement.record {
                        Some(Value::Dict(record)) => record,
                        _ => Dict::new(),
                    };
                    proptest::prop_assert_eq!(record.len(), args.len() + kwargs.len());
                    for (column, _) in record.iter() {
                        let declared = format!("{column} integer");
                        proptest::prop_assert!(statement.sql.contains(&declared));
                    }
                }
                Err(reason) => proptest::prop_assert!(reason.starts_with("public.add2")),
            }
        }
    }

    #[test]
    fn wrong_arguments_name_the_parameter() {
        for (args, kw, expected) in [
            (vec![], kwargs(&[]), "parameter \"a\" is missing"),
            (vec![Value::Null; 3], kwargs(&[]), "at most 2 positional"),
            (
                vec![1u64.into()],
                kwargs(&[("c", 1u64.into())]),
                "no parameter \"c\"",
            ),
            (
                vec![1u64.into()],
                kwargs(&[("a", 1u64.into())]),
                "both by position and by name",
            ),
            (
                vec![true.into()],
                kwargs(&[]),
                "parameter \"a\" takes integer, not a",
            ),
            (
                vec![1u64.into(), Value::List(vec![])],
                kwargs(&[]),
                "parameter \"b\" takes integer",
            ),
        ] {
            let error = call(&add2(), &args, &kw, None).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
        assert!(call(&add2(), &["7".into()], &Dict::new(), None).is_ok());
    }
}
