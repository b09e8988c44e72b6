-- Development data for the sample service, added once (while the table is empty). Run as the
-- owner role with the app schema first in the search path, after the migrations.
INSERT INTO beacons (name)
SELECT name FROM unnest(ARRAY['harbour-north', 'harbour-south', 'lighthouse-point']) AS name
WHERE NOT EXISTS (SELECT 1 FROM beacons);
