"""The operations console (docs/console.md): server-rendered pages under ``/console``
where ops find, understand and decide every stuck bet, signed in to their own
accounts. Served by the same application as the API; every asset is the app's own."""
