//! The behaviour table and the attack corpus through the built roomgate.wasm inside a real nginx
//! with Kong's ngx_wasm_module, configured from the shipped `deploy/nginx/nginx.conf`. CI has no
//! such nginx (ngx_wasm_module is on no package registry): set `ROOMGATE_NGINX=/path/to/nginx`
//! to run these; without it they print that they were skipped and pass.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use roomgate_tests::nginx::{self, nginx_binary, NginxHost};
use roomgate_tests::table::{self, Case};

fn run(what: &str, cases: &[Case]) {
    let Some(binary) = nginx_binary() else {
        eprintln!(
            "SKIPPED: {what} in a real nginx: set ROOMGATE_NGINX to an nginx built with \
             ngx_wasm_module (README, \"nginx\") to run it"
        );
        return;
    };
    let mut host = NginxHost::new(binary).unwrap();
    match nginx::run_all(cases, &mut host) {
        Ok(()) => eprintln!(
            "{what} in a real nginx: all {} cases hold ({} of them refused by nginx itself, \
             see roomgate_tests::nginx::REFUSED_BY_NGINX)",
            cases.len(),
            cases
                .iter()
                .filter(|c| nginx::REFUSED_BY_NGINX.iter().any(|(n, _)| *n == c.name))
                .count()
        ),
        Err(e) => panic!("{what} in a real nginx: {e}"),
    }
}

#[test]
fn every_case_of_the_behaviour_table_holds_in_a_real_nginx() {
    run("the behaviour table", &table::cases());
}

#[test]
fn every_attack_of_the_corpus_gets_its_status_in_a_real_nginx() {
    run("the attack corpus", &roomgate_tests::attacks::cases());
}
