"""Seed 001's party-building assessment (洛市直发〔2013〕20号): the self-check statistics table
(自查统计表), the democratic recommendation in the group step (民主推荐) and the bonus items a unit
declares itself (单位自行申报的加分项目). See docs/party-building.md."""
