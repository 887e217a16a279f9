"""Reading and writing records in bulk: CSV, vCard, value parsing and column mapping.

Pure Python and database-free: nothing here imports the database core or Textual.

- `csvread`: stream a CSV file of any size (encoding, delimiter, messy headers).
- `values`: strict parsers for the values found in cells (numbers, dates, emails...).
- `mapping`: guess which property each column of a file goes to.
- `vcard`: read .vcf address books, write vCard 4.0.
- `csvwrite`: write CSV without letting a spreadsheet run cells as formulas.
"""
