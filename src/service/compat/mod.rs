//! What the seed services' documented clients need beyond the native API: seed 000's Matrix
//! provisioning, introspection and `user` role, seed 001's claims, seed 002's numbered users with
//! per-user permissions, seed 003's development headers. The native services do the rest; these compose them.
pub mod cl;
pub mod daarion;
pub mod dev;
pub mod edd;
pub mod matrix;
pub mod numbers;
