# An example that claims nothing.
print("hello")
