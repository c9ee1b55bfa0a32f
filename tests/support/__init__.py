"""The one test harness: running stacks, one HTTP client and its users, fakes of outside APIs."""
