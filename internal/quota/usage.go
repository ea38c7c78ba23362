package quota

import (
	"context"

	"github.com/google/uuid"

	"github.com/licensing-service/licensing/db"
	"github.com/licensing-service/licensing/internal/postgres"
)

// UsageOf returns the usage of several licenses at once, keyed by license
// id (the admin console's list). Ids of no license are left out.
func (s *Service) UsageOf(ctx context.Context, licenseIDs []uuid.UUID) (map[uuid.UUID]Usage, error) {
	out := make(map[uuid.UUID]Usage, len(licenseIDs))
	if len(licenseIDs) == 0 {
		return out, nil
	}
	var rows []db.LicenseUsage
	err := postgres.WithAllLicensesTx(ctx, s.pool, func(q *db.Queries) (err error) {
		rows, err = q.LicenseUsageList(ctx, licenseIDs)
		return err
	})
	if err != nil {
		return nil, postgres.Translate(err)
	}
	for _, u := range rows {
		out[u.LicenseID] = usageOf(u)
	}
	return out, nil
}

// HourlyStarts returns the jobs the license started in each of the 24 hours
// before now, oldest first; together they are the sliding window Usage
// counts. A license that does not exist has 24 zeros.
func (s *Service) HourlyStarts(ctx context.Context, licenseID uuid.UUID) ([]int64, error) {
	var rows []db.JobHourlyStartsRow
	err := s.read(ctx, licenseID, func(q *db.Queries) (err error) {
		rows, err = q.JobHourlyStarts(ctx, licenseID)
		return err
	})
	if err != nil {
		return nil, postgres.Translate(err)
	}
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.Starts
	}
	return out, nil
}
