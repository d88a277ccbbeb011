//! The gateway's socket-level integration tests: real sockets on 127.0.0.1:0 with a
//! tokio-tungstenite client. (Modules are declared as they are written.)
