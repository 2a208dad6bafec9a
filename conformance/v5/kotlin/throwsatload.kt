// Fails while it loads: a 503 with the error.
val loadFailure: Int = fail()

private fun fail(): Int = throw RuntimeException("Load failure")
