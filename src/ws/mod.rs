//! WebSocket framing: header parser, Close payload parser, and the incremental per-direction
//! frame reader that sits on a reassembled TCP stream.

pub mod close;
pub mod frame;
pub mod history;
pub mod inflate;
pub mod reader;
