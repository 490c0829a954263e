"""The campaign managers' pages: views, forms, selectors and access rules, above the domain apps."""
