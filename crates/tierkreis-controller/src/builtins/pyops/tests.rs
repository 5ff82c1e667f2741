//! Python semantics of the operations, checked against values CPython 3.13 gives.

use num_bigint::BigInt;
use num_traits::One;

use super::numbers::ratio_to_f64;
use super::*;

fn f(x: f64) -> Value {
    Value::Float(x)
}

#[test]
fn ratio_rounds_to_nearest_even() {
    // Values checked against Python 3.13: 1/3, 2**1100/3 overflows,
    // 1/(2**1100) underflows to 0.0, 10**30/7.
    let b = |s: &str| s.parse::<BigInt>().expect("int");
    assert_eq!(ratio_to_f64(&b("1"), &b("3")), Some(1.0 / 3.0));
    assert_eq!(ratio_to_f64(&(BigInt::one() << 1100u32), &b("3")), None);
    assert_eq!(
        ratio_to_f64(&b("1"), &(BigInt::one() << 1100u32)),
        Some(0.0)
    );
    assert_eq!(
        ratio_to_f64(&b("1000000000000000000000000000000"), &b("7")),
        Some(1.4285714285714286e29)
    );
    // 2**53 + 1 is a tie between 2**53 and 2**53 + 2: even wins.
    assert_eq!(
        ratio_to_f64(&((BigInt::one() << 53u32) + 1u8), &b("1")),
        Some(9007199254740992.0)
    );
    // Smallest subnormal and a half of it (ties to even: 0).
    assert_eq!(
        ratio_to_f64(&b("1"), &(BigInt::one() << 1074u32)),
        Some(5e-324)
    );
    assert_eq!(
        ratio_to_f64(&b("1"), &(BigInt::one() << 1075u32)),
        Some(0.0)
    );
    assert_eq!(ratio_to_f64(&b("-3"), &b("2")), Some(-1.5));
}

#[test]
fn python_float_floor_and_mod() {
    // Python: -7.5 // 2 == -4.0, -7.5 % 2 == 0.5, 7.5 % -2 == -0.5, -5 // 2.0 == -3.0
    assert_eq!(arith(Op::FloorDiv, &f(-7.5), &Value::int(2)), Ok(f(-4.0)));
    assert_eq!(arith(Op::Mod, &f(-7.5), &Value::int(2)), Ok(f(0.5)));
    assert_eq!(arith(Op::Mod, &f(7.5), &Value::int(-2)), Ok(f(-0.5)));
    assert_eq!(arith(Op::FloorDiv, &Value::int(-5), &f(2.0)), Ok(f(-3.0)));
}

#[test]
fn python_pow_cases() {
    // Python: (-8)**0.5 == (1.7319121124709868e-16+2.8284271247461903j)
    assert_eq!(
        arith(Op::Pow, &Value::int(-8), &f(0.5)),
        Ok(Value::List(vec![
            f(1.7319121124709868e-16),
            f(2.8284271247461903)
        ]))
    );
    assert_eq!(
        arith(Op::Pow, &Value::int(0), &Value::int(-1)).map_err(|e| e.message),
        Err("0.0 cannot be raised to a negative power".to_string())
    );
    assert_eq!(
        arith(Op::Pow, &f(10.0), &f(400.0)).map_err(|e| e.message),
        Err("(34, 'Numerical result out of range')".to_string())
    );
    assert_eq!(
        arith(Op::Pow, &Value::int(-2), &Value::int(-1)),
        Ok(f(-0.5))
    );
}

#[test]
fn python_sum_is_compensated() {
    // Python 3.13: sum([0.1]*10) == 1.0, sum([1e100, 1, -1e100]) == 0.0,
    // sum([1, 0.1, 0.2, 0.3]) == 1.6, sum([True, 2]) == 3
    assert_eq!(sum(&vec![f(0.1); 10]), Ok(f(1.0)));
    assert_eq!(sum(&[f(1e100), Value::int(1), f(-1e100)]), Ok(f(0.0)));
    assert_eq!(sum(&[Value::int(1), f(0.1), f(0.2), f(0.3)]), Ok(f(1.6)));
    assert_eq!(sum(&[Value::Bool(true), Value::int(2)]), Ok(Value::int(3)));
}

#[test]
fn python_mean_is_exact() {
    // Python 3.13: mean([1,2,3]) == 2, mean([0.1,0.2,0.3]) == 0.2,
    // mean([True, False]) == 0.5
    assert_eq!(
        mean(&[Value::int(1), Value::int(2), Value::int(3)]),
        Ok(Value::int(2))
    );
    assert_eq!(mean(&[f(0.1), f(0.2), f(0.3)]), Ok(f(0.2)));
    assert_eq!(mean(&[Value::Bool(true), Value::Bool(false)]), Ok(f(0.5)));
    assert_eq!(
        mean(&[Value::Str("a".into())]).map_err(|e| e.message),
        Err("can't convert type 'str' to numerator/denominator".to_string())
    );
}

#[test]
fn python_comparisons_and_errors() {
    let big = Value::Int(BigInt::one() << 1100u32);
    assert_eq!(compare(Cmp::Gt, &big, &f(1e308)), Ok(true));
    assert_eq!(compare(Cmp::Lt, &Value::int(1), &f(1.5)), Ok(true));
    assert!(eq(&Value::Bool(true), &Value::int(1)));
    assert_eq!(
        compare(Cmp::Lt, &Value::Null, &Value::int(1)).map_err(|e| e.message),
        Err("'<' not supported between instances of 'NoneType' and 'int'".to_string())
    );
    assert_eq!(
        sorted(&[Value::int(1), Value::Str("a".into())]).map_err(|e| e.message),
        Err("'<' not supported between instances of 'str' and 'int'".to_string())
    );
}

#[test]
fn python_utf8_errors() {
    // Messages from Python 3.13's bytes.decode().
    let m = |b: &[u8]| decode_utf8(b).map_err(|e| e.message);
    assert_eq!(
        m(b"\xe2\x82x"),
        Err("'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte".into())
    );
    assert_eq!(
        m(b"a\xe2"),
        Err("'utf-8' codec can't decode byte 0xe2 in position 1: unexpected end of data".into())
    );
    assert_eq!(
        m(b"\xed\xa0\x80"),
        Err("'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte".into())
    );
}

#[test]
fn python_int_parsing() {
    assert_eq!(int(&Value::Str(" 4_2 ".into())), Ok(Value::int(42)));
    assert_eq!(
        int(&Value::Str("it's".into())).map_err(|e| e.message),
        Err("invalid literal for int() with base 10: \"it's\"".to_string())
    );
    assert_eq!(int(&f(-3.9)), Ok(Value::int(-3)));
    assert_eq!(
        int(&f(f64::INFINITY)).map_err(|e| e.message),
        Err("cannot convert float infinity to integer".to_string())
    );
}
