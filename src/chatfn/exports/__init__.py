"""Your data, out and in: the export zip (its versioned schema, its Markdown), the readers
of what can be imported (chatfn's export, ChatGPT's), and the jobs the `exports` function
runs on them."""
