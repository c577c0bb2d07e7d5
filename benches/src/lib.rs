//! Inputs shared by ringbar's criterion benchmarks (see `benches/`).
