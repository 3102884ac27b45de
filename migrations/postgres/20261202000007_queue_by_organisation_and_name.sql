-- The admins' queue filtered by organisation and sorted by name walks this index in order instead of sorting.
CREATE INDEX applications_queue_organisation_name ON applications (organisation, state, project_name, id);
