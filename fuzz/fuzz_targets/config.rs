//! Any bytes as a plugin configuration: compiling must return a gate or an error, never panic;
//! an error message never repeats a secret from the environment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomgate_filter::Gate;
use roomgate_fuzz::{env, SECRET};

fuzz_target!(|data: &[u8]| {
    match Gate::from_json(data, &env) {
        Ok(gate) => {
            // A configuration that loads must decide a request without panicking.
            let _ = gate.decide_pairs("/standup?jwt=a.b.c", &[], roomgate_fuzz::NOW);
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.contains(SECRET), "a secret in a configuration error");
        }
    }
});
