include!("../scripts/build-commit.rs");

fn main() {
    emit_build_commit();
}
