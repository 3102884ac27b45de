-- Why an admin suspended a project (shown on its page while it is suspended).
ALTER TABLE projects ADD COLUMN suspend_reason TEXT;
