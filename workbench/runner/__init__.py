"""`sockbench run FILE`: a session file run without the screen (a mock server in CI, a
repeatable protocol check), on the engine and the session core the app uses."""
