// Tests for RiverInference.
