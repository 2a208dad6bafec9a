//! Bad input from the executor side: each class is answered with the error schema (or a clean close where
//! HTTP itself is broken), and the next request on a fresh connection is served.
