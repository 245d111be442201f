#[allow(dead_code)]
mod keystore;

fn main() {}
