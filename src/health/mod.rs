//! Health signals. For now the HTTP prober: one GET per probe, for health checks through the
//! test listener (see DESIGN "Health signals").

mod http;

pub use http::{HttpProber, Probe};
