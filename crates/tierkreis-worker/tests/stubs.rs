//! The generated stubs are byte for byte what the reference generates for
//! the same worker written in Python (`data/demo_worker.py`, whose output
//! without ruff is `data/demo_worker_stubs.py`).

mod common;

#[test]
fn stubs_equal_the_reference_output() {
    let stubs = common::demo_worker().stubs().expect("stubs");
    let reference = include_str!("data/demo_worker_stubs.py");
    assert_eq!(stubs, reference);
}

#[test]
fn primitive_tasks_have_no_stubs_and_write_stubs_creates_folders() {
    let mut w = common::demo_worker();
    w.primitive_task("raw", |_, _| Ok::<_, String>(()));
    let with_primitive = w.stubs().expect("stubs");
    assert_eq!(with_primitive, include_str!("data/demo_worker_stubs.py"));

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a/b/stubs.py");
    w.write_stubs(&path).expect("written");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        with_primitive
    );
}

#[test]
fn a_task_without_inputs_and_one_without_a_struct() {
    let mut w = tierkreis_worker::Worker::new("w");
    w.task("pi", |(): ()| Ok::<_, String>(2.5));
    expect_test::expect![[r#"
        class pi(NamedTuple):
            

            @staticmethod
            def out() -> type[TKR[float]]:
                return TKR[float]

            @property
            def namespace(self) -> str:
                return "w" 
    "#]]
    .assert_eq(
        w.stubs()
            .expect("stubs")
            .split("\n\n\n\n")
            .nth(1)
            .expect("methods"),
    );

    w.task("bad", |x: i64| Ok::<_, String>(x));
    let err = w.stubs().expect_err("not a struct");
    assert_eq!(
        err.to_string(),
        "bad: the inputs of a task must be a struct with named fields, but i64 is not"
    );
}
